import type { CommandError } from "../../ipc/commands";
import { TechnicalDetail } from "./TechnicalDetail";

/** An error in plain words, with the technical detail one click away. */
export function ErrorNotice({ error, title }: { error: CommandError; title?: string }) {
  return (
    <div className="notice notice-error" role="alert" data-testid="error-notice">
      {title && <strong className="notice-title">{title}</strong>}
      <p>{error.message}</p>
      {error.detail && <TechnicalDetail detail={error.detail} what="technical details" />}
    </div>
  );
}

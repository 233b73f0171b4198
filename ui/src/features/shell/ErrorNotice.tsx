import { useId, useState } from "react";
import type { CommandError } from "../../ipc/commands";

/** An error in plain words, with the technical detail one click away. */
export function ErrorNotice({ error, title }: { error: CommandError; title?: string }) {
  const [open, setOpen] = useState(false);
  const detailId = useId();
  return (
    <div className="notice notice-error" role="alert" data-testid="error-notice">
      {title && <strong className="notice-title">{title}</strong>}
      <p>{error.message}</p>
      {error.detail && (
        <>
          <button
            type="button"
            className="link-button"
            aria-expanded={open}
            aria-controls={detailId}
            onClick={() => setOpen((o) => !o)}
          >
            {open ? "Hide technical details" : "Show technical details"}
          </button>
          {open && (
            <pre id={detailId} className="detail">
              {error.detail}
            </pre>
          )}
        </>
      )}
    </div>
  );
}

// A server that runs one export per client at a time (CMS BCDA) refused this export because another was
// running, and said which. That export may be a forgotten one from another program or computer: Haul can
// cancel it on the server, after asking, since whoever started it loses it.
import { useState } from "react";
import { commands, toCommandError, type CommandError } from "../../ipc/commands";
import { ErrorNotice } from "../shell/ErrorNotice";

interface Props {
  jobId: number;
  /** The status URL of the export the server is running. */
  statusUrl: string;
  onCancelled: () => void;
}

export function BlockingExport({ jobId, statusUrl, onCancelled }: Props) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<CommandError | null>(null);
  const cancel = () => {
    setBusy(true);
    setError(null);
    commands
      .cancelBlockingExport(jobId)
      .then(onCancelled)
      .catch((e: unknown) => setError(toCommandError(e)))
      .finally(() => {
        setBusy(false);
        setConfirming(false);
      });
  };
  return (
    <div className="field" data-testid="blocking-export">
      {error && <ErrorNotice error={error} title="The server's export was not cancelled" />}
      {confirming ? (
        <div className="confirm" role="alertdialog" aria-label="Cancel the server's running export?">
          <p>
            Cancel the export the server is running (<code>{statusUrl}</code>)? Whoever started it loses it; then run
            this export again.
          </p>
          <div className="actions">
            <button type="button" className="danger" data-testid="confirm-cancel-blocking" disabled={busy} onClick={cancel}>
              Cancel it on the server
            </button>
            <button type="button" onClick={() => setConfirming(false)}>
              Keep it
            </button>
          </div>
        </div>
      ) : (
        <button type="button" data-testid="cancel-blocking" onClick={() => setConfirming(true)}>
          Cancel the server's running export…
        </button>
      )}
    </div>
  );
}

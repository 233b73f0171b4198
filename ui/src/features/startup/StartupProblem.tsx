import { useState } from "react";
import { commands, toCommandError, type CommandError, type StartupStatus } from "../../ipc/commands";
import { ErrorNotice } from "../shell/ErrorNotice";

type Problem = Exclude<StartupStatus, { state: "ready" }>;

/** Shown instead of the app when Haul's data cannot be used. Nothing is deleted from here. */
export function StartupProblem({ status, onResolved }: { status: Problem; onResolved: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<CommandError | null>(null);
  const [movedTo, setMovedTo] = useState<string | null>(null);

  const moveAside = async () => {
    setBusy(true);
    setError(null);
    try {
      setMovedTo(await commands.moveDatabaseAside());
    } catch (e) {
      setError(toCommandError(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="center-page">
      <section className="card startup-problem" aria-labelledby="problem-title" data-testid="startup-problem">
        <h1 id="problem-title">
          {status.state === "dataDirProblem"
            ? "Haul cannot use its data folder"
            : status.problem === "too_new"
              ? "This database belongs to a newer Haul"
              : "Haul's database is damaged"}
        </h1>
        <p>{status.message}</p>
        {status.path && (
          <p className="muted">
            Location: <code>{status.path}</code>
          </p>
        )}
        {error && <ErrorNotice error={error} />}
        {movedTo ? (
          <>
            <p data-testid="moved-to">
              The old file is kept at <code>{movedTo}</code>. Haul starts with an empty list of servers.
            </p>
            <button type="button" className="primary" onClick={onResolved}>
              Continue
            </button>
          </>
        ) : status.state === "databaseProblem" && status.movable ? (
          <div className="actions">
            <button type="button" className="primary" disabled={busy} onClick={moveAside} data-testid="move-aside">
              Move it aside and start afresh
            </button>
            <span className="muted">The file is renamed, not deleted.</span>
          </div>
        ) : (
          <div className="actions">
            <button type="button" onClick={onResolved}>
              Try again
            </button>
          </div>
        )}
      </section>
    </main>
  );
}

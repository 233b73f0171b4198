import { useCallback, useEffect, useState } from "react";
import { commands, toCommandError, type CommandError, type StartupStatus } from "./ipc/commands";
import { ErrorNotice } from "./features/shell/ErrorNotice";
import { Shell } from "./features/shell/Shell";
import { StartupProblem } from "./features/startup/StartupProblem";

export function App() {
  const [status, setStatus] = useState<StartupStatus | null>(null);
  const [error, setError] = useState<CommandError | null>(null);

  const load = useCallback(() => {
    commands
      .startupStatus()
      .then(setStatus)
      .catch((e: unknown) => setError(toCommandError(e)));
  }, []);

  useEffect(load, [load]);

  if (error) {
    return (
      <main className="center-page">
        <ErrorNotice error={error} title="Haul could not start" />
      </main>
    );
  }
  if (!status) {
    return (
      <main className="center-page" aria-busy="true">
        <p className="muted">Starting Haul…</p>
      </main>
    );
  }
  if (status.state !== "ready") {
    return <StartupProblem status={status} onResolved={load} />;
  }
  return <Shell />;
}

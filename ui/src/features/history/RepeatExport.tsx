// History → "Repeat this export": the system's own scheduler runs it again daily, weekly or monthly, each
// time only what changed since the last complete run, also while Haul is closed. Existing schedules of the
// export are listed with how their last run went, and can be stopped.
import { useCallback, useEffect, useId, useState } from "react";
import type { Cadence } from "../../ipc/bindings/Cadence";
import type { Schedule } from "../../ipc/bindings/Schedule";
import { commands, toCommandError, type CommandError } from "../../ipc/commands";
import { ErrorNotice } from "../shell/ErrorNotice";
import { formatDateTime } from "../../format";

const CADENCES: { id: Cadence; label: string }[] = [
  { id: "monthly", label: "Monthly (on the 1st)" },
  { id: "weekly", label: "Weekly (on Mondays)" },
  { id: "daily", label: "Daily" },
];

function lastRun(s: Schedule): string {
  if (!s.lastRunAt) return "not run yet";
  return `last run ${formatDateTime(s.lastRunAt)}: ${s.lastMessage ?? s.lastOutcome ?? ""}`;
}

export function RepeatExport({ exportId }: { exportId: number }) {
  const ids = { cadence: useId(), at: useId() };
  const [schedules, setSchedules] = useState<Schedule[]>([]);
  const [cadence, setCadence] = useState<Cadence>("monthly");
  const [at, setAt] = useState("06:00");
  const [note, setNote] = useState<string | null>(null);
  const [error, setError] = useState<CommandError | null>(null);
  const load = useCallback(() => {
    commands
      .listSchedules()
      .then((all) => setSchedules(all.filter((s) => s.exportId === exportId)))
      .catch((e: unknown) => setError(toCommandError(e)));
  }, [exportId]);
  useEffect(load, [load]);
  // The answer appears at the foot of a long pane: brought into view.
  const shown = useCallback((node: HTMLElement | null) => node?.scrollIntoView?.({ block: "nearest" }), []);

  const add = () => {
    setError(null);
    commands
      .scheduleExport(exportId, cadence, at)
      .then((added) => {
        setNote(added.note ?? `Haul will run this export again ${cadence} at ${at}, also while it is closed.`);
        load();
      })
      .catch((e: unknown) => setError(toCommandError(e)));
  };

  return (
    <section className="compare-runs" data-testid="repeat-export">
      <h3>Repeat this export</h3>
      <div className="actions">
        <label htmlFor={ids.cadence}>How often</label>
        <select id={ids.cadence} value={cadence} onChange={(e) => setCadence(e.target.value as Cadence)}>
          {CADENCES.map((c) => (
            <option key={c.id} value={c.id}>
              {c.label}
            </option>
          ))}
        </select>
        <label htmlFor={ids.at}>at</label>
        <input id={ids.at} type="time" data-testid="repeat-at" value={at} onChange={(e) => setAt(e.target.value)} />
        <button type="button" data-testid="repeat-add" onClick={add}>
          Repeat
        </button>
      </div>
      <p className="field-hint">
        Each run asks only for what changed since the last complete one and goes into a new folder. The system's
        scheduler runs it, so Haul need not be open; a failed run is shown the next time Haul opens.
      </p>
      {note && (
        <p className="field-hint" role="status" data-testid="repeat-note" ref={shown}>
          {note}
        </p>
      )}
      {error && <ErrorNotice error={error} title="Could not change the schedule" />}
      {schedules.length > 0 && (
        <ul className="plain-list" data-testid="repeat-list">
          {schedules.map((s) => (
            <li key={s.id}>
              {s.cadence} at {s.at} ({lastRun(s)}){" "}
              <button
                type="button"
                onClick={() =>
                  commands
                    .removeSchedule(s.id)
                    .then(load)
                    .catch((e: unknown) => setError(toCommandError(e)))
                }
              >
                Stop repeating
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

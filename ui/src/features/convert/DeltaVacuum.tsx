// Each conversion into Delta tables makes a new version and keeps the files the old one held, so engines can
// still read it (time travel) for the tables' retention. Without a VACUUM a year of months keeps twelve copies
// of every table; this looks first (a dry run) and removes only after the person has seen what goes.
import { useState } from "react";
import type { Vacuumed } from "../../ipc/bindings/Vacuumed";
import { commands, toCommandError, type CommandError } from "../../ipc/commands";
import { countOf, formatBytes } from "../../format";
import { ErrorNotice } from "../shell/ErrorNotice";
import { tableName, vacuumHeadline, vacuumTotals } from "./convert";

type Stage =
  | { kind: "idle" }
  | { kind: "looking" }
  | { kind: "found"; list: Vacuumed[] }
  | { kind: "removing"; list: Vacuumed[] }
  | { kind: "removed"; list: Vacuumed[] }
  | { kind: "failed"; error: CommandError; removing: boolean };

/** The files only older versions of the Delta tables under `target` hold: looked for, shown, then removed. */
export function DeltaVacuum({ target, onBusy }: { target: string; onBusy?: (busy: boolean) => void }) {
  const [stage, setStage] = useState<Stage>({ kind: "idle" });
  const look = () => {
    setStage({ kind: "looking" });
    commands
      .vacuumDeltaTables(target, true, null)
      .then((list) => setStage({ kind: "found", list }))
      .catch((e: unknown) => setStage({ kind: "failed", error: toCommandError(e), removing: false }));
  };
  // Removes what the look listed, no more: the retention is counted back from the look's moment, though
  // more versions may have passed it since (a conversion in between, a table kept for no time).
  const remove = (list: Vacuumed[]) => {
    setStage({ kind: "removing", list });
    onBusy?.(true);
    commands
      .vacuumDeltaTables(target, false, list[0]?.asOfMs ?? null)
      .then((done) => setStage({ kind: "removed", list: done }))
      .catch((e: unknown) => setStage({ kind: "failed", error: toCommandError(e), removing: true }))
      .finally(() => onBusy?.(false));
  };

  return (
    <div className="field vacuum" data-testid="delta-vacuum">
      <h4>Older versions</h4>
      {stage.kind === "idle" && (
        <>
          <p className="field-hint">
            Each export makes a new version of the tables and keeps the files of the one before, so that engines can
            still read it. Once a version was replaced longer ago than the tables&apos; retention (a week unless a
            table says otherwise), its files can go. The command line does the same: <code>haul vacuum</code>.
          </p>
          <div className="actions">
            <button type="button" data-testid="delta-vacuum-look" onClick={look}>
              Look for old versions&apos; files
            </button>
          </div>
        </>
      )}
      {stage.kind === "looking" && <p role="status">Reading the tables&apos; logs…</p>}
      {stage.kind === "failed" && (
        <>
          <ErrorNotice
            error={stage.error}
            title={stage.removing ? "Old versions' files were not all removed" : "The tables could not be read"}
          />
          <div className="actions">
            <button type="button" onClick={look}>
              Look again
            </button>
          </div>
        </>
      )}
      {(stage.kind === "found" || stage.kind === "removing" || stage.kind === "removed") && (
        <VacuumList stage={stage} target={target} onRemove={remove} onLookAgain={look} />
      )}
    </div>
  );
}

function VacuumList({
  stage,
  target,
  onRemove,
  onLookAgain,
}: {
  stage: Extract<Stage, { kind: "found" | "removing" | "removed" }>;
  target: string;
  onRemove: (list: Vacuumed[]) => void;
  onLookAgain: () => void;
}) {
  const { list } = stage;
  const totals = vacuumTotals(list);
  const removed = stage.kind === "removed";
  return (
    <>
      <p className={`notice ${removed ? "notice-ok" : ""}`} role="status" data-testid="delta-vacuum-headline">
        {vacuumHeadline(list)}
      </p>
      {totals.files > 0 && (
        <div className="table-scroll">
          <table className="files-table" data-testid="delta-vacuum-list">
            <thead>
              <tr>
                <th>Table</th>
                <th className="num">{removed ? "Files removed" : "Old files"}</th>
                <th className="num">Size</th>
              </tr>
            </thead>
            <tbody>
              {list.map((v) => (
                <tr key={v.table}>
                  <td>
                    <code>{tableName(v.table, target)}</code>
                  </td>
                  <td className="num">{countOf(v.files.length, "file")}</td>
                  <td className="num">{formatBytes(v.bytes)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div className="actions">
        {!removed && totals.files > 0 && (
          <button
            type="button"
            className="danger"
            data-testid="delta-vacuum-remove"
            disabled={stage.kind === "removing"}
            onClick={() => onRemove(list)}
          >
            {stage.kind === "removing" ? "Removing…" : `Remove ${countOf(totals.files, "file")}`}
          </button>
        )}
        <button type="button" disabled={stage.kind === "removing"} onClick={onLookAgain}>
          Look again
        </button>
      </div>
    </>
  );
}

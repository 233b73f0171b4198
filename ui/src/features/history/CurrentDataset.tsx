import { countOf, formatCount, formatDateTime } from "../../format";
// History → an export → "Current dataset": the folder where the latest version of every resource of this
// request is kept as Parquet tables (updated by every export that arrives complete), what it holds, the flat
// views kept current beside the tables, and whether this export is in it. The engine keeps it; this only
// shows it and opens the folder.
import { useEffect, useState } from "react";
import { commands, toCommandError, type CommandError } from "../../ipc/commands";
import type { DatasetSummary } from "../../ipc/bindings/DatasetSummary";
import type { JobRecord } from "../../ipc/bindings/JobRecord";
import { ErrorNotice } from "../shell/ErrorNotice";

const n = formatCount;

/** Why an export is not in its dataset, in words. */
export function notInDataset(job: JobRecord): string {
  if (job.settings.newMembersOf != null) return `These are the new members' records of export ${job.settings.newMembersOf}; they were merged with it.`;
  if (job.request.until) return "An export that ends at a set time (“changed up to”) is a window, not the current state, so it is not in the dataset.";
  if (job.state !== "completed") return "Only exports whose every file arrived and verified update the dataset.";
  return "This export could not be applied to it (its finished message says why).";
}

export function CurrentDataset({ job }: { job: JobRecord }) {
  const [summary, setSummary] = useState<DatasetSummary | null | undefined>(undefined);
  const [error, setError] = useState<CommandError | null>(null);
  useEffect(() => {
    let live = true;
    commands
      .exportDataset(job.id)
      .then((s) => live && setSummary(s))
      .catch((e: unknown) => live && setError(toCommandError(e)));
    return () => {
      live = false;
    };
  }, [job.id, job.state]);
  if (error) return <ErrorNotice error={error} title="Could not read the current dataset" />;
  if (!summary) return null;
  const rows = summary.tables.reduce((sum, t) => sum + t.rows, 0);
  const last = summary.applied[summary.applied.length - 1];
  return (
    <section className="compare-runs" data-testid="current-dataset">
      <h3>Current dataset of this request</h3>
      <p>
        {n(rows)} resources in {summary.tables.length} Parquet tables, as of export {last?.exportId}
        {last ? ` (data as of ${formatDateTime(last.transactionTime)})` : ""}. Point DuckDB, pandas or your BI tool at:
      </p>
      <p>
        <code data-testid="current-dataset-folder">{summary.folder}</code>
      </p>
      {summary.views.length > 0 && (
        <p data-testid="current-dataset-views">
          Flat tables for spreadsheets and BI, kept current in its <code>views</code> folder:{" "}
          {summary.views.map((v) => `${v.name} (${countOf(v.rows, "row")})`).join(", ")}.
        </p>
      )}
      {!summary.holdsThisExport && <p className="field-hint">{notInDataset(job)}</p>}
      <div className="actions">
        <button
          type="button"
          data-testid="open-dataset-folder"
          onClick={() => commands.openDatasetFolder(job.id).catch((e: unknown) => setError(toCommandError(e)))}
        >
          Open dataset folder
        </button>
      </div>
    </section>
  );
}

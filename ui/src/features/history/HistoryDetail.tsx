import { useEffect, useRef, useState } from "react";
import { FolderOpen, Play, RotateCcw, Table2, Trash2 } from "lucide-react";
import { CommandError, commands, toCommandError, type ExportSummary } from "../../ipc/commands";
import { countOf, formatDateTime, formatDuration, secondsBetween } from "../../format";
import { ActionMenu, type MenuAction } from "../../design/ActionMenu";
import { StatusBadge } from "../../design/StatusBadge";
import { isInterrupted, isUnfinished, jobTone } from "../exports/jobState";
import { TypeTotalsTable } from "../exports/TypeTotalsTable";
import { ConvertPanel } from "../convert/ConvertPanel";
import { TablesPanel } from "../tables/TablesPanel";
import { ErrorNotice } from "../shell/ErrorNotice";
import { BlockingExport } from "./BlockingExport";
import { CompareExports } from "./CompareExports";
import { CurrentDataset } from "./CurrentDataset";
import { ExportLog } from "./ExportLog";
import { RepeatExport } from "./RepeatExport";
import { statusText, whatText } from "./summaryText";

/** One export's details and what can be done with it: one main action, a few buttons, the rest under More. */
export function HistoryDetail({
  summary,
  onResume,
  onRerun,
  onChanged,
  onBrowse,
  comparableWith,
}: {
  summary: ExportSummary;
  onResume: () => void;
  onRerun: (incremental: boolean) => void;
  onChanged: () => void;
  onBrowse?: (folder: string) => void;
  /** Other finished runs of the same server and level. */
  comparableWith: ExportSummary[];
}) {
  const { job, totals } = summary;
  const [error, setError] = useState<CommandError | null>(null);
  const [text, setText] = useState<{ which: "log" | "errors"; body: string } | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [flash, setFlash] = useState<string | null>(null);
  const [panel, setPanel] = useState<"convert" | "tables" | null>(null);
  const panelRef = useRef<HTMLDivElement>(null);
  // Deleted ("Delete files…") or moved away: nothing in the folder can be opened any more.
  const present = summary.filesPresent;
  // A storage export's resource files are in the storage, not in the folder: nothing to look inside here.
  const destination = job.settings.destination;
  const convertible =
    present && !destination && !summary.running && ["completed", "completed_with_problems"].includes(job.state);
  const finished = !isUnfinished(job.state);
  const cancellable = isInterrupted(summary);
  const resumable = cancellable || (!summary.running && job.state === "failed");
  const fail = (e: unknown) => setError(toCommandError(e));
  const show = (which: "log" | "errors") =>
    commands
      .exportText(job.id, which)
      .then((body) => setText({ which, body }))
      .catch(fail);
  // A panel opened below the facts is brought into view: in a short window it would open out of sight.
  useEffect(() => {
    if (panel) panelRef.current?.scrollIntoView?.({ block: "start", behavior: "smooth" });
  }, [panel]);
  const took = secondsBetween(job.createdAt, job.completedAt);

  const more: MenuAction[] = [];
  // Changes since an export whose files are gone would leave that export's data out of every later one.
  if (job.transactionTime && present) {
    more.push({ label: "Run again: only what changed since", testId: "rerun-incremental", onSelect: () => onRerun(true) });
  }
  if (present) {
    more.push({ label: "Show log", testId: "show-log", onSelect: () => show("log") });
    more.push({ label: "Show server errors", testId: "show-errors", onSelect: () => show("errors") });
  }
  if (finished && present) {
    more.push({ label: "Delete files…", testId: "delete-files", danger: true, onSelect: () => setConfirmDelete(true) });
  }

  return (
    <article className="card" data-testid="history-detail">
      <header className="detail-head">
        <h2>Export {job.id}</h2>
        <StatusBadge tone={jobTone(summary)} label={statusText(summary)} paused={cancellable} testId="history-detail-status" />
      </header>
      {error && <ErrorNotice error={error} />}
      {job.failure && (
        <ErrorNotice
          title="What went wrong"
          error={new CommandError({ code: "internal", message: job.failure.message, detail: job.failure.detail ?? undefined })}
        />
      )}
      {job.blockedBy && job.state === "failed" && <BlockingExport jobId={job.id} statusUrl={job.blockedBy} onCancelled={onChanged} />}
      {job.problems.length > 0 && (
        <div className="notice notice-warn" data-testid="history-problems">
          {job.problems.map((p, i) => (
            <p key={i}>{p}</p>
          ))}
        </div>
      )}
      {!present && (
        <div className="notice" data-testid="history-files-gone">
          <p>
            The files of this export are no longer in <code>{job.outDir}</code> (deleted, or moved). The entry stays as a
            record of what was exported; <em>Run again</em> fetches the same request.
          </p>
        </div>
      )}
      <dl className="facts">
        <dt>Server</dt>
        <dd>
          {summary.serverName ?? <code>{job.fhirUrl}</code>}
          {summary.serverName && <span className="muted small"> · {job.fhirUrl}</span>}
        </dd>
        <dt>What</dt>
        <dd>{whatText(job, summary.groupName)}</dd>
        <dt>Started</dt>
        <dd>{formatDateTime(job.createdAt)}</dd>
        {took !== null && (
          <>
            <dt>Took</dt>
            <dd>{formatDuration(took)}</dd>
          </>
        )}
        {job.transactionTime && (
          <>
            <dt>Data as of</dt>
            <dd title={job.transactionTime}>{formatDateTime(job.transactionTime)}</dd>
          </>
        )}
        {summary.deletions > 0 && (
          <>
            <dt>Deleted on the server</dt>
            <dd data-testid="history-deletions">{countOf(summary.deletions, "resource")}</dd>
          </>
        )}
        {destination && (
          <>
            <dt>Storage</dt>
            <dd>
              <code data-testid="history-destination">{destination}</code> (each export in its own export_date= folder)
            </dd>
          </>
        )}
        <dt>{destination ? "Haul's own files" : "Folder"}</dt>
        <dd>
          <code data-testid="history-folder">{job.outDir}</code>
        </dd>
      </dl>
      <div className="actions" data-testid="history-actions">
        {resumable && (
          <button type="button" className="primary" data-testid="resume-export" onClick={onResume}>
            <Play aria-hidden="true" size={16} /> {job.state === "failed" ? "Try again" : "Resume"}
          </button>
        )}
        {convertible && onBrowse && (
          <button type="button" className="primary" data-testid="browse-export" onClick={() => onBrowse(job.outDir)}>
            <Table2 aria-hidden="true" size={16} /> Look inside
          </button>
        )}
        {present && (
          <button type="button" onClick={() => commands.openExportFolder(job.id).catch(fail)}>
            <FolderOpen aria-hidden="true" size={16} /> Open folder
          </button>
        )}
        {convertible && (
          <button type="button" data-testid="convert-export" onClick={() => setPanel("convert")}>
            Convert to Parquet or Delta…
          </button>
        )}
        {convertible && (
          <button type="button" data-testid="make-tables" onClick={() => setPanel("tables")}>
            Make tables…
          </button>
        )}
        {finished && (
          <button type="button" className={present ? undefined : "primary"} data-testid="rerun-export" onClick={() => onRerun(false)}>
            <RotateCcw aria-hidden="true" size={16} /> Run again
          </button>
        )}
        {cancellable && (
          <button type="button" className="danger" onClick={() => commands.cancelExport(job.id).then(onChanged).catch(fail)}>
            Cancel
          </button>
        )}
        <ActionMenu actions={more} testId="more-actions" />
      </div>
      {confirmDelete && (
        <div className="confirm" role="alertdialog" aria-label="Delete the files of this export?">
          {destination ? (
            <p data-testid="delete-storage-note">
              Delete Haul's own files of this export in <code>{job.outDir}</code>? The files in{" "}
              <code>{destination}</code> stay: delete them in the storage. The history entry stays.
            </p>
          ) : (
            <p>
              Delete the folder <code>{job.outDir}</code> and everything this export downloaded? The history entry stays.
            </p>
          )}
          <div className="actions">
            <button
              type="button"
              className="danger"
              data-testid="confirm-delete-files"
              onClick={() =>
                commands
                  .deleteExportFiles(job.id)
                  .then(() => {
                    setConfirmDelete(false);
                    setFlash("The files were deleted.");
                    onChanged();
                  })
                  .catch(fail)
              }
            >
              <Trash2 aria-hidden="true" size={16} /> Delete the files
            </button>
            <button type="button" onClick={() => setConfirmDelete(false)}>
              Keep them
            </button>
          </div>
        </div>
      )}
      {flash && (
        <p className="notice notice-ok" role="status">
          {flash}
        </p>
      )}
      <div ref={panelRef}>
        {panel === "convert" && <ConvertPanel key={job.id} exportId={job.id} onClose={() => setPanel(null)} />}
        {panel === "tables" && <TablesPanel key={`tables-${job.id}`} exportId={job.id} onClose={() => setPanel(null)} />}
      </div>
      {text && <ExportLog which={text.which} body={text.body} onClose={() => setText(null)} />}
      {totals.length > 0 && <TypeTotalsTable totals={totals} testId="history-totals" />}
      {convertible && <CurrentDataset key={`dataset-${job.id}`} job={job} />}
      {convertible && <CompareExports key={job.id} job={job} candidates={comparableWith} />}
      {convertible && <RepeatExport key={`repeat-${job.id}`} exportId={job.id} />}
    </article>
  );
}

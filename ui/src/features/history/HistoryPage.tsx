import { useVirtualizer } from "@tanstack/react-virtual";
import { useCallback, useEffect, useRef, useState } from "react";
import { CommandError, commands, toCommandError, type ExportSummary } from "../../ipc/commands";
import type { JobRecord } from "../../ipc/bindings/JobRecord";
import { RunningExport, useJobProgress } from "../exports/RunningExport";
import { formatSeconds, STATE_LABEL } from "../exports/progress";
import { isInterrupted, isUnfinished } from "../exports/jobState";
import { countOf, formatBytes } from "../../format";
import { TypeTotalsTable } from "../exports/TypeTotalsTable";
import { ConvertPanel } from "../convert/ConvertPanel";
import { TablesPanel } from "../tables/TablesPanel";
import { BlockingExport } from "./BlockingExport";
import { CompareExports, comparable } from "./CompareExports";
import { CurrentDataset } from "./CurrentDataset";
import { RepeatExport } from "./RepeatExport";
import { ErrorNotice } from "../shell/ErrorNotice";

const ROW_HEIGHT = 52;

const watchStart = (id: number) => ({
  key: `watch-${id}`,
  start: ((cb) => commands.watchExport(id, cb).then((running) => (running ? id : null))) as Start,
});

/** What a row says about a job's state, telling "interrupted" from "running here". */
export function statusText(s: ExportSummary): string {
  if (s.running) return `${STATE_LABEL[s.job.state]} (running)`;
  if (isInterrupted(s)) return "Interrupted: resume";
  return STATE_LABEL[s.job.state];
}

export function whatText(job: JobRecord): string {
  const level = job.request.level;
  const what = !level || level.kind === "system" ? "Everything" : level.kind === "patient" ? "All patients" : `Group ${level.groupId}`;
  const types = job.request.types.length > 0 ? ` · ${job.request.types.join(", ")}` : "";
  const since = job.request.since ? ` · since ${job.request.since}` : "";
  return `${what}${types}${since}`;
}

function duration(job: JobRecord): string {
  if (!job.completedAt) return "";
  const s = (Date.parse(job.completedAt) - Date.parse(job.createdAt)) / 1000;
  return Number.isFinite(s) ? formatSeconds(Math.max(0, s)) : "";
}

function host(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

type Start = (onEvent: Parameters<typeof commands.watchExport>[1]) => Promise<number | null>;

/** Follows a job: one that runs here, one resumed, or a new run of an earlier one. */
function Watch({ start, onDone }: { start: Start; onDone: () => void }) {
  const [progress, onEvent] = useJobProgress();
  const [error, setError] = useState<CommandError | null>(null);
  const [jobId, setJobId] = useState<number | null>(null);
  const [notRunning, setNotRunning] = useState(false);
  useEffect(() => {
    start(onEvent)
      .then((id) => (id === null ? setNotRunning(true) : setJobId(id)))
      .catch((e: unknown) => setError(toCommandError(e)));
  }, [start, onEvent]);
  useEffect(() => {
    if (progress.finished) onDone();
  }, [progress.finished, onDone]);
  if (error) return <ErrorNotice error={error} title="Could not run this export" />;
  if (notRunning) return <p className="muted">This export is not running any more.</p>;
  if (jobId === null) return <p className="muted">Starting…</p>;
  return (
    <RunningExport
      jobId={jobId}
      progress={progress}
      onCancel={() => commands.cancelExport(jobId).catch((e: unknown) => setError(toCommandError(e)))}
    />
  );
}

export function HistoryPage({ onBrowse }: { onBrowse?: (folder: string) => void } = {}) {
  const [rows, setRows] = useState<ExportSummary[] | null>(null);
  const [error, setError] = useState<CommandError | null>(null);
  const [selected, setSelected] = useState<number | null>(null);
  const [watching, setWatching] = useState<{ key: string; start: Start } | null>(null);
  const scroller = useRef<HTMLDivElement>(null);

  const reload = useCallback(() => {
    commands
      .listExports(100_000)
      .then((r) => {
        setRows(r);
        setError(null);
      })
      .catch((e: unknown) => setError(toCommandError(e)));
  }, []);
  useEffect(reload, [reload]);

  const virtualizer = useVirtualizer({
    count: rows?.length ?? 0,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 10,
    // Rows for the first paint, before the list is measured (and where nothing measures, as in tests).
    initialRect: { width: 0, height: 800 },
  });
  const chosen = rows?.find((r) => r.job.id === selected) ?? null;

  return (
    <section className="page history-page" aria-labelledby="history-title">
      <header className="page-header">
        <h1 id="history-title">History</h1>
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </header>
      {error && <ErrorNotice error={error} title="Could not load the history" />}
      {rows !== null && rows.length === 0 && (
        <div className="empty" data-testid="no-exports">
          <p>No exports yet.</p>
          <p className="muted">Start one on the Export page; every export is listed here, with its counts and folder.</p>
        </div>
      )}
      <div className="split history-split">
        <div className="history-list" ref={scroller} role="list" aria-label="Exports" data-testid="history-list">
          <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
            {virtualizer.getVirtualItems().map((item) => {
              const r = rows?.[item.index];
              if (!r) return null;
              const resources = r.totals.reduce((n, t) => n + t.resources, 0);
              const bytes = r.totals.reduce((n, t) => n + t.bytes, 0);
              return (
                <div
                  key={r.job.id}
                  role="listitem"
                  style={{ position: "absolute", top: 0, left: 0, right: 0, height: ROW_HEIGHT, transform: `translateY(${item.start}px)` }}
                >
                  <button
                    type="button"
                    className="history-row"
                    aria-current={selected === r.job.id ? "true" : undefined}
                    data-testid={`history-row-${r.job.id}`}
                    onClick={() => {
                      setSelected(r.job.id);
                      setWatching(r.running ? watchStart(r.job.id) : null);
                    }}
                  >
                    <span className="history-main">
                      <strong>#{r.job.id}</strong> {whatText(r.job)}
                      {r.job.scheduleId !== undefined && (
                        <span className="badge" data-testid={`history-scheduled-${r.job.id}`}>
                          scheduled
                        </span>
                      )}
                      {r.job.settings.newMembersOf != null && (
                        <span className="badge" data-testid={`history-new-members-${r.job.id}`}>
                          new members of #{r.job.settings.newMembersOf}
                        </span>
                      )}
                    </span>
                    <span className="history-sub muted">
                      {r.job.createdAt.slice(0, 16).replace("T", " ")} · {r.serverName ?? host(r.job.fhirUrl)} ·{" "}
                      <span data-testid={`history-status-${r.job.id}`}>{statusText(r)}</span> · {countOf(resources, "resource")} ·{" "}
                      {formatBytes(bytes)}
                    </span>
                  </button>
                </div>
              );
            })}
          </div>
        </div>
        <div className="detail-pane">
          {watching ? (
            <Watch key={watching.key} start={watching.start} onDone={reload} />
          ) : chosen ? (
            <HistoryDetail
              summary={chosen}
              onResume={() =>
                setWatching({
                  key: `resume-${chosen.job.id}`,
                  start: (cb) => commands.resumeExport(chosen.job.id, cb).then(() => chosen.job.id),
                })
              }
              onRerun={(incremental) =>
                setWatching({
                  key: `rerun-${chosen.job.id}-${incremental}-${Date.now()}`,
                  start: (cb) => commands.rerunExport(chosen.job.id, incremental, cb),
                })
              }
              onChanged={reload}
              onBrowse={onBrowse}
              comparableWith={comparable(chosen.job, rows ?? [])}
            />
          ) : (
            rows !== null && rows.length > 0 && <p className="muted pane-hint">Choose an export to see its details.</p>
          )}
        </div>
      </div>
    </section>
  );
}

function HistoryDetail({
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
  const [text, setText] = useState<{ title: string; body: string } | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [flash, setFlash] = useState<string | null>(null);
  const [converting, setConverting] = useState(false);
  const [makingTables, setMakingTables] = useState(false);
  // Deleted ("Delete files…") or moved away: nothing in the folder can be opened any more.
  const present = summary.filesPresent;
  const convertible = present && !summary.running && ["completed", "completed_with_problems"].includes(job.state);
  const finished = !isUnfinished(job.state);
  const show = (which: "log" | "errors", title: string) =>
    commands
      .exportText(job.id, which)
      .then((body) => setText({ title, body }))
      .catch((e: unknown) => setError(toCommandError(e)));
  const cancellable = isInterrupted(summary);
  const resumable = cancellable || (!summary.running && job.state === "failed");
  return (
    <article className="card" data-testid="history-detail">
      <h2>
        Export {job.id}: {statusText(summary)}
      </h2>
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
          <code>{job.fhirUrl}</code>
        </dd>
        <dt>What</dt>
        <dd>{whatText(job)}</dd>
        <dt>Started</dt>
        <dd>{job.createdAt.replace("T", " ").slice(0, 19)}</dd>
        {job.completedAt && (
          <>
            <dt>Took</dt>
            <dd>{duration(job)}</dd>
          </>
        )}
        {job.transactionTime && (
          <>
            <dt>Data as of</dt>
            <dd>{job.transactionTime}</dd>
          </>
        )}
        {summary.deletions > 0 && (
          <>
            <dt>Deleted on the server</dt>
            <dd data-testid="history-deletions">{countOf(summary.deletions, "resource")}</dd>
          </>
        )}
        <dt>Folder</dt>
        <dd>
          <code data-testid="history-folder">{job.outDir}</code>
        </dd>
      </dl>
      {totals.length > 0 && (
        <TypeTotalsTable totals={totals} testId="history-totals" />
      )}
      <div className="actions">
        {resumable && (
          <button type="button" className="primary" data-testid="resume-export" onClick={onResume}>
            {job.state === "failed" ? "Try again" : "Resume"}
          </button>
        )}
        {cancellable && (
          <button
            type="button"
            className="danger"
            onClick={() =>
              commands
                .cancelExport(job.id)
                .then(onChanged)
                .catch((e: unknown) => setError(toCommandError(e)))
            }
          >
            Cancel
          </button>
        )}
        {present && (
          <button type="button" onClick={() => commands.openExportFolder(job.id).catch((e: unknown) => setError(toCommandError(e)))}>
            Open folder
          </button>
        )}
        {finished && (
          <button type="button" data-testid="rerun-export" onClick={() => onRerun(false)}>
            Run again
          </button>
        )}
        {/* Changes since an export whose files are gone would leave that export's data out of every later one. */}
        {job.transactionTime && present && (
          <button type="button" data-testid="rerun-incremental" onClick={() => onRerun(true)}>
            Run again: only what changed since
          </button>
        )}
        {convertible && onBrowse && (
          <button type="button" className="primary" data-testid="browse-export" onClick={() => onBrowse(job.outDir)}>
            Look inside
          </button>
        )}
        {convertible && (
          <button type="button" data-testid="convert-export" onClick={() => setConverting(true)}>
            Convert to Parquet…
          </button>
        )}
        {convertible && (
          <button type="button" data-testid="make-tables" onClick={() => setMakingTables(true)}>
            Make tables…
          </button>
        )}
        {present && (
          <>
            <button type="button" data-testid="show-log" onClick={() => show("log", "log.ndjson")}>
              Show log
            </button>
            <button type="button" onClick={() => show("errors", "The server's error files")}>
              Show server errors
            </button>
          </>
        )}
        {finished &&
          present &&
          (confirmDelete ? (
            <div className="confirm" role="alertdialog" aria-label="Delete the files of this export?">
              <p>
                Delete the folder <code>{job.outDir}</code> and everything this export downloaded? The history entry
                stays.
              </p>
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
                      .catch((e: unknown) => setError(toCommandError(e)))
                  }
                >
                  Delete the files
                </button>
                <button type="button" onClick={() => setConfirmDelete(false)}>
                  Keep them
                </button>
              </div>
            </div>
          ) : (
            <button type="button" className="danger" data-testid="delete-files" onClick={() => setConfirmDelete(true)}>
              Delete files…
            </button>
          ))}
      </div>
      {converting && <ConvertPanel key={job.id} exportId={job.id} onClose={() => setConverting(false)} />}
      {makingTables && <TablesPanel key={`tables-${job.id}`} exportId={job.id} onClose={() => setMakingTables(false)} />}
      {convertible && <CurrentDataset key={`dataset-${job.id}`} job={job} />}
      {convertible && <CompareExports key={job.id} job={job} candidates={comparableWith} />}
      {convertible && <RepeatExport key={`repeat-${job.id}`} exportId={job.id} />}
      {flash && (
        <p className="notice notice-ok" role="status">
          {flash}
        </p>
      )}
      {text && (
        <div className="field">
          <span className="field-label">{text.title}</span>
          <pre className="detail" data-testid="export-text">
            {text.body || "(empty)"}
          </pre>
        </div>
      )}
    </article>
  );
}

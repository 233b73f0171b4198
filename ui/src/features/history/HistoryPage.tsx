import { useVirtualizer } from "@tanstack/react-virtual";
import { useCallback, useEffect, useRef, useState, type CSSProperties } from "react";
import { CommandError, commands, toCommandError, type ExportSummary } from "../../ipc/commands";
import type { JobRecord } from "../../ipc/bindings/JobRecord";
import { RunningExport, useJobProgress } from "../exports/RunningExport";
import { isInterrupted, jobTone } from "../exports/jobState";
import { countOf, formatBytes, formatDateTime } from "../../format";
import { StatusBadge } from "../../design/StatusBadge";
import { SplitHandle, useSplitWidth } from "../../design/SplitHandle";
import { comparable } from "./CompareExports";
import { HistoryDetail } from "./HistoryDetail";
import { statusText, whatText } from "./summaryText";
import { ErrorNotice } from "../shell/ErrorNotice";

/** The export list's width in pixels: what it starts at, and how far the bar between the panes moves it. */
const LIST_WIDTH = { initial: 380, min: 260, max: 520 };

export { statusText, whatText };

const ROW_HEIGHT = 58;

const watchStart = (id: number) => ({
  key: `watch-${id}`,
  start: ((cb) => commands.watchExport(id, cb).then((running) => (running ? id : null))) as Start,
});

function host(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

type Start = (onEvent: Parameters<typeof commands.watchExport>[1]) => Promise<number | null>;

/** Follows a job: one that runs here, one resumed, or a new run of an earlier one. */
function Watch({ start, onStarted, onDone }: { start: Start; onStarted: (jobId: number) => void; onDone: () => void }) {
  const [progress, onEvent] = useJobProgress();
  const [error, setError] = useState<CommandError | null>(null);
  const [jobId, setJobId] = useState<number | null>(null);
  const [notRunning, setNotRunning] = useState(false);
  useEffect(() => {
    start(onEvent)
      .then((id) => {
        if (id === null) return setNotRunning(true);
        setJobId(id);
        onStarted(id);
      })
      .catch((e: unknown) => setError(toCommandError(e)));
  }, [start, onEvent, onStarted]);
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

export function HistoryPage({
  onBrowse,
  onRunAgain,
  initialSelected,
}: {
  onBrowse?: (folder: string) => void;
  /** "Run again": the Export page with this export's request filled in, shown before it starts. */
  onRunAgain?: (job: JobRecord) => void;
  /** The export to show first (chosen on the home screen). */
  initialSelected?: number;
} = {}) {
  const [rows, setRows] = useState<ExportSummary[] | null>(null);
  const [error, setError] = useState<CommandError | null>(null);
  const [selected, setSelected] = useState<number | null>(initialSelected ?? null);
  const [watching, setWatching] = useState<{ key: string; start: Start } | null>(null);
  const scroller = useRef<HTMLDivElement>(null);
  const split = useSplitWidth("history", LIST_WIDTH);

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
  // A run started from here (again, or changes only) is a new export: the list shows it, marked as the one
  // whose progress the details pane follows.
  const showStarted = useCallback(
    (jobId: number) => {
      setSelected(jobId);
      reload();
    },
    [reload],
  );

  const virtualizer = useVirtualizer({
    count: rows?.length ?? 0,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 10,
    // Rows for the first paint, before the list is measured (and where nothing measures, as in tests).
    initialRect: { width: 0, height: 800 },
  });
  const chosen = rows?.find((r) => r.job.id === selected) ?? null;
  // An export chosen elsewhere (the home screen) is scrolled to, and followed if it runs.
  const opened = useRef(false);
  useEffect(() => {
    if (opened.current || !rows || initialSelected === undefined) return;
    opened.current = true;
    const at = rows.findIndex((r) => r.job.id === initialSelected);
    if (at < 0) return;
    virtualizer.scrollToIndex(at, { align: "center" });
    if (rows[at]?.running) setWatching(watchStart(initialSelected));
  }, [rows, initialSelected, virtualizer]);

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
      <div className="split history-split has-split-handle" style={{ "--split-first": `${split.width}px` } as CSSProperties}>
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
                      <StatusBadge tone={jobTone(r)} label={statusText(r)} paused={isInterrupted(r)} testId={`history-status-${r.job.id}`} />
                      <span className="history-what">
                        <span className="muted">#{r.job.id}</span> {whatText(r.job, r.groupName)}
                      </span>
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
                      {formatDateTime(r.job.createdAt)} · {r.serverName ?? host(r.job.fhirUrl)} · {countOf(resources, "resource")} ·{" "}
                      {formatBytes(bytes)}
                      {!r.filesPresent && " · files deleted"}
                    </span>
                  </button>
                </div>
              );
            })}
          </div>
        </div>
        <SplitHandle {...split.handle} label="Width of the export list" testId="history-split-handle" />
        <div className="detail-pane">
          {watching ? (
            <Watch key={watching.key} start={watching.start} onStarted={showStarted} onDone={reload} />
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
                !incremental && onRunAgain
                  ? onRunAgain(chosen.job)
                  : setWatching({
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

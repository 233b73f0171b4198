import { countOf, formatBytes, formatCount, formatDateTime, formatDuration } from "../../format";
import { useCallback, useEffect, useReducer, useState } from "react";
import type { JobEvent } from "../../ipc/commands";
import { applyEvent, initialProgress, STATE_LABEL, totalsByType, waitingText, type Progress } from "./progress";
import { TypeTotalsTable } from "./TypeTotalsTable";

type Action = JobEvent | { event: "reset" };

const reduce = (p: Progress, a: Action): Progress => (a.event === "reset" ? initialProgress : applyEvent(p, a));

/** One job's progress, fed by engine events: `[progress, onEvent, reset]`. */
export function useJobProgress(): [Progress, (e: JobEvent) => void, () => void] {
  const [progress, dispatch] = useReducer(reduce, initialProgress);
  const onEvent = useCallback((e: JobEvent) => dispatch(e), []);
  const reset = useCallback(() => dispatch({ event: "reset" }), []);
  return [progress, onEvent, reset];
}

/** Seconds since the component appeared and the clock now: ticking while `running`, and read once more when it
 * stops, so a short export does not show "0.0 s". */
function useClock(running: boolean): { elapsed: number; now: number } {
  const [start] = useState(() => Date.now());
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    setNow(Date.now());
    if (!running) return;
    const timer = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(timer);
  }, [running]);
  return { elapsed: (now - start) / 1000, now };
}

export function RunningExport({
  jobId,
  progress,
  onCancel,
  onClose,
  next,
}: {
  jobId: number;
  progress: Progress;
  onCancel: () => void;
  onClose?: () => void;
  /** What to do now, shown under the finished message (above the file list, which can be long). */
  next?: React.ReactNode;
}) {
  const finished = progress.finished;
  const { elapsed, now } = useClock(!finished);
  const [confirming, setConfirming] = useState(false);
  const files = Object.values(progress.files).sort((a, b) => a.seq - b.seq);
  const totals = totalsByType(progress);
  const state = progress.state ?? "created";
  const tone = !finished
    ? ""
    : finished.state === "completed"
      ? "notice-ok"
      : finished.state === "completed_with_problems"
        ? "notice-warn"
        : "notice-error";

  return (
    <section className="card running-export" aria-labelledby={`job-${jobId}-title`} data-testid="running-export">
      <header className="page-header">
        <h2 id={`job-${jobId}-title`}>
          Export {jobId}: <span data-testid="job-state">{STATE_LABEL[state]}</span>
        </h2>
        <span className="muted" aria-label="Elapsed time">
          {formatDuration(elapsed)}
        </span>
      </header>
      {finished ? (
        <>
          <div className={`notice ${tone}`} role="status" data-testid="job-finished">
            <p>{finished.message}</p>
          </div>
          {next}
        </>
      ) : (
        <p className="status-line" role="status" aria-live="polite" data-testid="job-status">
          {(progress.waiting && waitingText(progress.waiting, now)) ??
            (progress.serverText ? `Server: ${progress.serverText}` : state === "downloading" ? "Downloading files…" : "Waiting for the server to prepare the files…")}
        </p>
      )}
      {!finished && progress.expires && (
        <p className="muted" data-testid="job-expires">
          The server keeps these files until {formatDateTime(progress.expires)}.
        </p>
      )}
      {progress.warnings.length > 0 && (
        <div className="notice notice-warn" role="log" aria-label="Warnings" data-testid="job-warnings">
          {progress.warnings.map((w, i) => (
            <p key={i}>{w}</p>
          ))}
        </div>
      )}
      {files.length > 0 && (
        // Once finished, the per-type totals say it all; the files fold away (a big export has hundreds).
        <details className="job-files" open={!finished}>
          <summary>{countOf(files.length, "file")}</summary>
        <table className="files-table" data-testid="job-files">
          <caption className="visually-hidden">Files</caption>
          <thead>
            <tr>
              <th scope="col">File</th>
              <th scope="col">Progress</th>
              <th scope="col" className="num">
                Size
              </th>
              <th scope="col" className="num">
                Resources
              </th>
            </tr>
          </thead>
          <tbody>
            {files.map((f) => (
              <tr key={f.seq} data-status={f.status}>
                <td>
                  <code>{f.name}</code>
                  {f.status === "failed" && <div className="field-error">{f.message}</div>}
                  {f.badLines > 0 && <div className="field-warning">{countOf(f.badLines, "bad line")} set aside</div>}
                </td>
                <td>
                  {f.status === "verified" ? (
                    <span className="ok-text">verified</span>
                  ) : f.status === "failed" ? (
                    <span className="error-text">failed</span>
                  ) : (
                    <progress
                      max={f.total ?? undefined}
                      value={f.total ? f.bytes : undefined}
                      aria-label={`Downloading ${f.name}`}
                    />
                  )}
                </td>
                <td className="num">{formatBytes(f.bytes)}</td>
                <td className="num">{(f.resources != null ? formatCount(f.resources) : "…")}</td>
              </tr>
            ))}
          </tbody>
        </table>
        </details>
      )}
      {totals.length > 0 && (
        <TypeTotalsTable totals={totals} testId="job-totals" />
      )}
      <div className="actions">
        {!finished &&
          (confirming ? (
            <div className="confirm" role="alertdialog" aria-label="Cancel this export?">
              <p>Cancel this export? Files already downloaded stay in the folder; the server is told to stop.</p>
              <div className="actions">
                <button type="button" className="danger" data-testid="confirm-cancel" onClick={onCancel}>
                  Cancel the export
                </button>
                <button type="button" onClick={() => setConfirming(false)}>
                  Keep it running
                </button>
              </div>
            </div>
          ) : (
            <button type="button" className="danger" data-testid="cancel-export" onClick={() => setConfirming(true)}>
              Cancel…
            </button>
          ))}
        {onClose && (
          <button type="button" className="push-right" onClick={onClose}>
            {finished ? "Close" : "Hide (it keeps running)"}
          </button>
        )}
      </div>
    </section>
  );
}

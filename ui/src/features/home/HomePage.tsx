import { useEffect, useState } from "react";
import { CalendarClock, Play, Plus, RotateCcw, Server as ServerIcon } from "lucide-react";
import { commands, toCommandError, type CommandError, type ExportSummary } from "../../ipc/commands";
import type { Schedule } from "../../ipc/bindings/Schedule";
import type { Server } from "../../ipc/bindings/Server";
import { countOf, formatBytes, formatDateTime } from "../../format";
import { StatusBadge } from "../../design/StatusBadge";
import { isInterrupted, jobTone } from "../exports/jobState";
import { formFromJob, type ExportForm } from "../exports/request";
import { statusText, whatText } from "../history/summaryText";
import { ErrorNotice } from "../shell/ErrorNotice";
import { homeLists } from "./home";

const CADENCE: Record<string, string> = { monthly: "Every month", weekly: "Every week", daily: "Every day" };

const resources = (r: ExportSummary) => r.totals.reduce((n, t) => n + t.resources, 0);
const bytes = (r: ExportSummary) => r.totals.reduce((n, t) => n + t.bytes, 0);

/**
 * Where Haul opens. A returning user sees what runs, what was interrupted, what is scheduled, and the requests
 * they make again and again, one click each; a first-time user is shown the way to a first export on the
 * built-in demo server.
 */
export function HomePage({
  onExport,
  onShowExport,
  onAddServer,
}: {
  /** Opens the Export page with this form filled in (nothing starts before the user says so). */
  onExport: (form: Partial<ExportForm>) => void;
  /** Opens History on this export. */
  onShowExport: (id: number) => void;
  onAddServer: () => void;
}) {
  const [rows, setRows] = useState<ExportSummary[] | null>(null);
  const [servers, setServers] = useState<Server[]>([]);
  const [schedules, setSchedules] = useState<Schedule[]>([]);
  const [error, setError] = useState<CommandError | null>(null);
  useEffect(() => {
    const fail = (e: unknown) => setError(toCommandError(e));
    commands.listExports(1000).then(setRows).catch(fail);
    commands.listServers().then(setServers).catch(fail);
    // Schedules live in the system's scheduler; without them the rest of the page is still right.
    commands
      .listSchedules()
      .then(setSchedules)
      .catch(() => setSchedules([]));
  }, []);

  const demo = servers.find((s) => s.builtin);
  const lists = homeLists(rows ?? []);
  const byId = new Map((rows ?? []).map((r) => [r.job.id, r]));

  return (
    <section className="page home-page" aria-labelledby="home-title">
      <header className="page-header">
        <h1 id="home-title">Home</h1>
        <button type="button" className="primary" data-testid="home-new-export" onClick={() => onExport({})}>
          <Plus aria-hidden="true" size={16} /> New export
        </button>
      </header>
      {error && <ErrorNotice error={error} title="Could not load everything" />}
      {rows !== null && rows.length === 0 && (
        <section className="card welcome" aria-labelledby="welcome-title" data-testid="home-welcome">
          <h2 id="welcome-title">Your first export</h2>
          <p>
            Haul downloads data from FHIR servers (an EHR, a payer, CMS BCDA) as files, keeps a history of every export,
            and turns the files into tables for Excel, BI tools or Python.
          </p>
          <ol className="steps">
            <li>
              Try it on the <strong>demo server</strong>: it is built in, needs no sign-in, and holds made-up patients.
            </li>
            <li>Look inside what came back, then make flat tables of it.</li>
            <li>When you are ready, add your own server with the address and sign-in its administrators gave you.</li>
          </ol>
          <div className="actions">
            {demo && (
              <button
                type="button"
                className="primary"
                data-testid="home-try-demo"
                onClick={() => onExport({ serverId: demo.id, level: "group", groupId: "aco-north" })}
              >
                <Play aria-hidden="true" size={16} /> Export a group from the demo server
              </button>
            )}
            <button type="button" onClick={onAddServer}>
              <ServerIcon aria-hidden="true" size={16} /> Add your server
            </button>
          </div>
        </section>
      )}
      {(lists.running.length > 0 || lists.interrupted.length > 0) && (
        <section className="card" aria-labelledby="home-now" data-testid="home-now">
          <h2 id="home-now">Now</h2>
          <ul className="home-list">
            {[...lists.running, ...lists.interrupted].map((r) => (
              <li key={r.job.id}>
                <StatusBadge tone={jobTone(r)} label={statusText(r)} paused={isInterrupted(r)} />
                <span className="home-what">{whatText(r.job, r.groupName)}</span>
                <span className="muted small">{r.serverName ?? r.job.fhirUrl}</span>
                <button type="button" onClick={() => onShowExport(r.job.id)}>
                  {isInterrupted(r) ? "Resume…" : "Show"}
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}
      {lists.again.length > 0 && (
        <section aria-labelledby="home-again">
          <h2 id="home-again">Export again</h2>
          <ul className="again-grid">
            {lists.again.map((r) => (
              <li key={r.job.id} className="card again-card" data-testid={`home-again-${r.job.id}`}>
                <strong className="again-title">{whatText(r.job, r.groupName)}</strong>
                <span className="muted small">{r.serverName ?? r.job.fhirUrl}</span>
                <span className="muted small">
                  Last: {formatDateTime(r.job.createdAt)} · {countOf(resources(r), "resource")}
                </span>
                <button type="button" className="primary" onClick={() => onExport(formFromJob(r.job))}>
                  <RotateCcw aria-hidden="true" size={16} /> Export again…
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}
      <div className="home-columns">
        {lists.recent.length > 0 && (
          <section className="card" aria-labelledby="home-recent" data-testid="home-recent">
            <h2 id="home-recent">Recent exports</h2>
            <ul className="home-list">
              {lists.recent.map((r) => (
                <li key={r.job.id}>
                  <StatusBadge tone={jobTone(r)} label={statusText(r)} paused={isInterrupted(r)} />
                  <button type="button" className="link-button home-what" onClick={() => onShowExport(r.job.id)}>
                    {whatText(r.job, r.groupName)}
                  </button>
                  <span className="muted small">
                    {formatDateTime(r.job.createdAt)} · {formatBytes(bytes(r))}
                  </span>
                </li>
              ))}
            </ul>
          </section>
        )}
        {schedules.length > 0 && (
          <section className="card" aria-labelledby="home-scheduled" data-testid="home-scheduled">
            <h2 id="home-scheduled">Scheduled</h2>
            <ul className="home-list">
              {schedules.map((s) => {
                const of = byId.get(s.exportId);
                return (
                  <li key={s.id}>
                    <CalendarClock aria-hidden="true" size={16} className="muted" />
                    <span className="home-what">{of ? whatText(of.job, of.groupName) : `Export ${s.exportId}`}</span>
                    <span className="muted small">
                      {CADENCE[s.cadence] ?? s.cadence} at {s.at}
                      {s.lastRunAt ? ` · last run ${formatDateTime(s.lastRunAt)}` : " · not run yet"}
                    </span>
                  </li>
                );
              })}
            </ul>
          </section>
        )}
      </div>
    </section>
  );
}

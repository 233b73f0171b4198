import { formatCount } from "../../format";
// History → "Compare with…": this export beside another run of the same server and level (a month earlier,
// say): resources added, changed, deleted and gone per type, counts side by side with bars, and the patients
// who joined or left the group. The engine decides which is earlier; this only shows it.
import { useCallback, useId, useState } from "react";
import { commands, toCommandError, type CommandError, type ExportSummary } from "../../ipc/commands";
import type { Comparison } from "../../ipc/bindings/Comparison";
import type { JobRecord } from "../../ipc/bindings/JobRecord";
import { ErrorNotice } from "../shell/ErrorNotice";

const n = formatCount;

/** Finished runs of the same server and level as `job`, newest first: what it can be compared with. */
export function comparable(job: JobRecord, rows: ExportSummary[]): ExportSummary[] {
  const finished = ["completed", "completed_with_problems"];
  const sameLevel = (other: JobRecord) => JSON.stringify(other.request.level) === JSON.stringify(job.request.level);
  // One saved server is one server even when its address changed (the demo's does at every start).
  const sameServer = (other: JobRecord) =>
    job.serverId !== null && other.serverId !== null ? other.serverId === job.serverId : other.fhirUrl === job.fhirUrl;
  // A new members' fetch (`patient=`) is part of the export it belongs to, not a run of its own.
  const aRun = (other: JobRecord) => other.settings.newMembersOf == null;
  return rows.filter(
    (r) => r.job.id !== job.id && finished.includes(r.job.state) && sameServer(r.job) && sameLevel(r.job) && aRun(r.job),
  );
}

function Ids({ label, ids, count, testId }: { label: string; ids: string[]; count: number; testId: string }) {
  if (count === 0) return null;
  const shown = ids.slice(0, 200);
  const rest = count - shown.length;
  return (
    <details data-testid={testId}>
      <summary>
        {label}: {n(count)}
      </summary>
      <p className="field-hint">
        {shown.join(", ")}
        {rest > 0 && `, and ${n(rest)} more`}
      </p>
    </details>
  );
}

function ComparisonView({ c }: { c: Comparison }) {
  // Shown below the fold of a long detail pane: brought into view when it arrives.
  const shown = useCallback((node: HTMLDivElement | null) => node?.scrollIntoView?.({ block: "nearest" }), []);
  const widest = Math.max(1, ...c.types.flatMap((t) => [Number(t.before), Number(t.after)]));
  const width = (v: number) => `${(100 * v) / widest}%`;
  const notHeld = c.types.filter((t) => t.deletedNotHeld > 0);
  return (
    <div data-testid="comparison" ref={shown}>
      {c.incremental && (
        <p className="field-hint">
          The later export asked for changes only: a resource it does not hold is unchanged, not gone.
        </p>
      )}
      <div className="table-scroll">
        <table className="files-table" data-testid="comparison-table">
          <caption>Per resource type</caption>
          <thead>
            <tr>
              <th scope="col">Type</th>
              {["Before", "After", "Added", "Changed", "Deleted", "Gone"].map((h) => (
                <th key={h} scope="col" className="num">
                  {h}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {c.types.map((t) => (
              <tr key={t.resourceType}>
                <td>{t.resourceType}</td>
                {[t.before, t.after, t.added, t.changed, t.deleted, t.removed].map((v, i) => (
                  <td key={i} className="num">
                    {n(v)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {notHeld.length > 0 && (
        <p className="field-hint" data-testid="deleted-not-held">
          The later export also listed deletions of resources the earlier one did not hold (
          {notHeld.map((t) => `${n(t.deletedNotHeld)} ${t.resourceType}`).join(", ")}): created since, deleted before it,
          or of patients it did not cover, they change nothing here.
        </p>
      )}
      <figure className="chart">
        <figcaption>Resources before and after</figcaption>
        <ul className="bars bars-compare" data-testid="comparison-chart">
          {c.types.map((t) => (
            <li key={t.resourceType}>
              <span className="bar-label">{t.resourceType}</span>
              <span className="bar-pair">
                <span className="bar-track" title={`before: ${n(t.before)}`}>
                  <span className="bar bar-before" style={{ width: width(t.before) }} />
                </span>
                <span className="bar-track" title={`after: ${n(t.after)}`}>
                  <span className="bar" style={{ width: width(t.after) }} />
                </span>
              </span>
              <span className="num">
                {n(t.before)} → {n(t.after)}
              </span>
            </li>
          ))}
        </ul>
      </figure>
      <Ids label="Patients who joined" ids={c.patientsJoined} count={c.patientsJoinedCount} testId="patients-joined" />
      <Ids label="Patients who left" ids={c.patientsLeft} count={c.patientsLeftCount} testId="patients-left" />
      {c.badLines > 0 && <p className="field-hint">{n(c.badLines)} lines were not resources and were left out.</p>}
    </div>
  );
}

export function CompareExports({ job, candidates }: { job: JobRecord; candidates: ExportSummary[] }) {
  const id = useId();
  const [other, setOther] = useState<number | null>(candidates[0]?.job.id ?? null);
  const [result, setResult] = useState<Comparison | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<CommandError | null>(null);
  if (candidates.length === 0) return null;
  const run = () => {
    if (other === null) return;
    setBusy(true);
    setError(null);
    commands
      .compareExports(job.id, other)
      .then(setResult)
      .catch((e: unknown) => setError(toCommandError(e)))
      .finally(() => setBusy(false));
  };
  return (
    <section className="compare-runs" aria-labelledby={`${id}-title`}>
      <h3 id={`${id}-title`}>Compare with another run</h3>
      <div className="actions">
        <label htmlFor={id}>Export</label>
        <select id={id} data-testid="compare-with" value={other ?? ""} onChange={(e) => setOther(Number(e.target.value))}>
          {candidates.map((r) => (
            <option key={r.job.id} value={r.job.id}>
              {r.job.id}: {r.job.createdAt.slice(0, 16).replace("T", " ")}
              {r.job.request.since ? " (changes only)" : ""}
            </option>
          ))}
        </select>
        <button type="button" data-testid="compare-run" disabled={busy} onClick={run}>
          {busy ? "Comparing…" : "Compare"}
        </button>
      </div>
      {error && <ErrorNotice error={error} title="Could not compare" />}
      {result && <ComparisonView c={result} />}
    </section>
  );
}

// What the home screen lists, as plain functions over History's rows: tested without a window.
import type { ExportSummary } from "../../ipc/commands";
import type { JobRecord } from "../../ipc/bindings/JobRecord";
import { isInterrupted } from "../exports/jobState";

/** Two exports ask for the same thing: same server, level, group, types and filters (dates aside). */
export function requestKey(job: JobRecord): string {
  const r = job.request;
  return JSON.stringify([job.serverId ?? job.fhirUrl, r.level, [...r.types].sort(), r.elements, r.patients, r.typeFilters]);
}

/**
 * The requests worth one click: the newest finished run of each distinct request, newest first (the roster
 * exported every month shows once, with its last run).
 */
export function againCandidates(rows: ExportSummary[], limit = 4): ExportSummary[] {
  const seen = new Set<string>();
  const out: ExportSummary[] = [];
  for (const r of [...rows].sort((a, b) => b.job.id - a.job.id)) {
    if (!["completed", "completed_with_problems"].includes(r.job.state) || r.job.serverId === null) continue;
    // A run of only the new members of a group is part of another run, not a request of its own.
    if (r.job.settings.newMembersOf != null) continue;
    const key = requestKey(r.job);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(r);
    if (out.length === limit) break;
  }
  return out;
}

export type HomeLists = { running: ExportSummary[]; interrupted: ExportSummary[]; recent: ExportSummary[]; again: ExportSummary[] };

export function homeLists(rows: ExportSummary[]): HomeLists {
  const newest = [...rows].sort((a, b) => b.job.id - a.job.id);
  return {
    running: newest.filter((r) => r.running),
    interrupted: newest.filter(isInterrupted),
    recent: newest.slice(0, 6),
    again: againCandidates(newest),
  };
}

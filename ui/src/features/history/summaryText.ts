// What History says about an export, in words: its state and what it asked for.
import type { ExportSummary } from "../../ipc/commands";
import type { JobRecord } from "../../ipc/bindings/JobRecord";
import { formatDate } from "../../format";
import { STATE_LABEL } from "../exports/progress";
import { isInterrupted } from "../exports/jobState";

/** What a row says about a job's state, telling "interrupted" from "running here". */
export function statusText(s: ExportSummary): string {
  if (s.running) return `${STATE_LABEL[s.job.state]} (running)`;
  if (isInterrupted(s)) return "Interrupted: resume";
  return STATE_LABEL[s.job.state];
}

/** `ACO North Regional · Patient, Claim · changes since Nov 1, 2026`: the group by its name where Haul knows it. */
export function whatText(job: JobRecord, groupName?: string | null): string {
  const level = job.request.level;
  const what =
    !level || level.kind === "system"
      ? "Everything"
      : level.kind === "patient"
        ? "All patients"
        : groupName
          ? groupName
          : `Group ${level.groupId}`;
  const types = job.request.types.length > 0 ? ` · ${job.request.types.join(", ")}` : "";
  const since = job.request.since ? ` · changes since ${formatDate(job.request.since)}` : "";
  return `${what}${types}${since}`;
}

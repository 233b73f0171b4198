// Which job states mean "not finished": a job in one of them that is not running in this app was interrupted
// (a closed window or a crash), and can be resumed or cancelled.
import type { JobState } from "../../ipc/bindings/JobState";
import type { Tone } from "../../design/StatusBadge";

// A Record, so that a new JobState fails the type check until it is sorted here.
const UNFINISHED: Record<JobState, boolean> = {
  created: true,
  kicked_off: true,
  downloading: true,
  completed: false,
  completed_with_problems: false,
  failed: false,
  cancelled: false,
};

/** The states an export is interrupted in when it is not running here. */
export const INTERRUPTED_STATES: readonly JobState[] = (Object.keys(UNFINISHED) as JobState[]).filter((s) => UNFINISHED[s]);

/** The job has not reached an end state (completed, with problems, failed, cancelled). */
export function isUnfinished(state: JobState): boolean {
  return UNFINISHED[state];
}

/** An export that stopped half-way: not finished, and not running in this app. */
export function isInterrupted(summary: { running: boolean; job: { state: JobState } }): boolean {
  return !summary.running && isUnfinished(summary.job.state);
}

/** How a job's state looks (colour and icon): finished well, with problems, failed, stopped, or going on. */
export function jobTone(summary: { running: boolean; job: { state: JobState } }): Tone {
  const state = summary.job.state;
  if (isUnfinished(state)) return summary.running ? "active" : "warn";
  switch (state) {
    case "completed":
      return "ok";
    case "completed_with_problems":
      return "warn";
    case "failed":
      return "error";
    default:
      return "muted";
  }
}

// A running export as the window shows it, rebuilt from the engine's events. Pure, so it is tested
// without a window; the page keeps one of these per watched job.
import { formatDuration } from "../../format";
import type { JobEvent } from "../../ipc/bindings/JobEvent";
import type { JobState } from "../../ipc/bindings/JobState";

export type FileProgress = {
  seq: number;
  name: string;
  resourceType: string;
  bytes: number;
  total: number | null;
  resources: number | null;
  badLines: number;
  status: "downloading" | "verified" | "failed";
  message?: string;
};

export type Progress = {
  state: JobState | null;
  serverText: string | null;
  /** The engine waits before trying again: why, and until when (ms since the epoch), to count down. */
  waiting: { reason: string; until: number } | null;
  files: Record<number, FileProgress>;
  warnings: string[];
  finished: { state: JobState; message: string } | null;
  /** Until when the server keeps the files (its `Expires`, an HTTP-date), when it said. */
  expires: string | null;
};

/** A wait as a sentence, counting down to the next try. */
export function waitingText(w: { reason: string; until: number }, now: number): string {
  return `${w.reason} (next try in ${formatDuration(Math.max(0, (w.until - now) / 1000))})`;
}

export const initialProgress: Progress = {
  state: null,
  serverText: null,
  waiting: null,
  files: {},
  warnings: [],
  finished: null,
  expires: null,
};

/** Warnings kept on screen: the newest, a bounded number. */
const MAX_WARNINGS = 50;

/** `now` (ms since the epoch) dates a wait's end; the caller's clock, so the function stays pure. */
export function applyEvent(p: Progress, e: JobEvent, now: number = Date.now()): Progress {
  switch (e.event) {
    case "state":
      return { ...p, state: e.state, waiting: null };
    case "kicked_off":
      return { ...p, state: "kicked_off" };
    case "progress":
      return { ...p, serverText: e.text, waiting: null };
    case "waiting":
      return { ...p, waiting: { reason: e.reason, until: now + e.seconds * 1000 } };
    case "warning":
      return { ...p, warnings: [...p.warnings, e.message].slice(-MAX_WARNINGS) };
    case "manifest":
      return { ...p, state: "downloading", serverText: null, expires: e.expires ?? null };
    case "file_started": {
      const old = p.files[e.seq];
      return {
        ...p,
        files: {
          ...p.files,
          [e.seq]: {
            seq: e.seq,
            name: e.name,
            resourceType: e.resourceType,
            bytes: e.resumeFrom,
            total: old?.total ?? null,
            resources: null,
            badLines: 0,
            status: "downloading",
          },
        },
      };
    }
    case "file_progress": {
      const old = p.files[e.seq];
      if (!old) return p;
      return { ...p, files: { ...p.files, [e.seq]: { ...old, bytes: e.bytes, total: e.total ?? old.total } } };
    }
    case "file_verified": {
      const old = p.files[e.seq];
      const base = old ?? { seq: e.seq, name: e.name, resourceType: e.name.split(".")[0] ?? "", total: null };
      return {
        ...p,
        files: {
          ...p.files,
          [e.seq]: { ...base, bytes: e.bytes, total: e.bytes, resources: e.resources, badLines: e.badLines, status: "verified" },
        },
      };
    }
    case "file_failed": {
      const old = p.files[e.seq];
      const base = old ?? { seq: e.seq, name: e.name, resourceType: "", bytes: 0, total: null, resources: null, badLines: 0 };
      return { ...p, files: { ...p.files, [e.seq]: { ...base, status: "failed", message: e.message } } };
    }
    case "finished":
      return { ...p, state: e.state, finished: { state: e.state, message: e.message }, waiting: null };
  }
}

export type TypeTotalRow = { resourceType: string; files: number; resources: number; bytes: number };

/** Verified resources and bytes per type, for the totals table. */
export function totalsByType(p: Progress): TypeTotalRow[] {
  const rows = new Map<string, TypeTotalRow>();
  for (const f of Object.values(p.files)) {
    if (f.name.startsWith("error/") || f.name.startsWith("deleted/")) continue;
    const row = rows.get(f.resourceType) ?? { resourceType: f.resourceType, files: 0, resources: 0, bytes: 0 };
    row.files += 1;
    row.resources += f.resources ?? 0;
    row.bytes += f.bytes;
    rows.set(f.resourceType, row);
  }
  return [...rows.values()].sort((a, b) => a.resourceType.localeCompare(b.resourceType));
}


export const STATE_LABEL: Record<JobState, string> = {
  created: "Starting",
  kicked_off: "Waiting for the server",
  downloading: "Downloading",
  completed: "Completed",
  completed_with_problems: "Completed with problems",
  failed: "Failed",
  cancelled: "Cancelled",
};

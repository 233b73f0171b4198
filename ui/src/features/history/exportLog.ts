// log.ndjson (the SMART reference client's event format, one JSON object a line) read as sentences: what
// happened, when, and whether it went wrong. Pure, so it is tested without a window.
import type { Tone } from "../../design/StatusBadge";
import { formatBytes, formatCount, formatDuration } from "../../format";

export type LogEntry = { time: string; what: string; detail?: string; tone: Tone };

type Detail = Record<string, unknown>;

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);

/** The file name at the end of a download URL (`…/Patient.000.ndjson?sig=…` → `Patient.000.ndjson`). */
function fileOf(url: unknown): string {
  const u = str(url);
  if (!u) return "a file";
  try {
    const path = new URL(u).pathname;
    return decodeURIComponent(path.slice(path.lastIndexOf("/") + 1)) || u;
  } catch {
    return u;
  }
}

function sentence(id: string, d: Detail): Omit<LogEntry, "time"> {
  switch (id) {
    case "kickoff":
      return d.errorCode != null || d.errorBody != null
        ? { what: `The server refused the export${d.errorCode != null ? ` (HTTP ${String(d.errorCode)})` : ""}`, detail: str(d.errorBody) ?? undefined, tone: "error" }
        : { what: "Export requested", detail: str(d.exportUrl) ?? undefined, tone: "active" };
    case "status_progress": {
      const progress = str(d.xProgress);
      const retry = num(d.retryAfter);
      return {
        what: `The server is preparing the files${progress ? `: ${progress}` : ""}`,
        detail: retry !== null ? `asked to check again in ${formatDuration(retry)}` : undefined,
        tone: "active",
      };
    }
    case "status_error":
      return { what: `Checking the status failed${d.code != null ? ` (HTTP ${String(d.code)})` : ""}`, detail: str(d.message) ?? undefined, tone: "warn" };
    case "status_complete":
    case "status_page_complete":
      return { what: "The server finished preparing the files", tone: "ok" };
    case "manifest_complete": {
      const files = num(d.totalOutputFileCount) ?? 0;
      const deleted = num(d.totalDeletedFileCount) ?? 0;
      const errors = num(d.totalErrorFileCount) ?? 0;
      const parts = [`${formatCount(files)} ${files === 1 ? "file" : "files"} of resources`];
      if (deleted) parts.push(`${formatCount(deleted)} of deletions`);
      if (errors) parts.push(`${formatCount(errors)} of errors`);
      return { what: `List of files received: ${parts.join(", ")}`, tone: "ok" };
    }
    case "download_request":
      return { what: `Downloading ${fileOf(d.fileUrl)}`, tone: "active" };
    case "download_complete": {
      const n = num(d.resourceCount);
      const size = num(d.fileSize);
      return {
        what: `Downloaded ${fileOf(d.fileUrl)}`,
        detail: [n !== null ? `${formatCount(n)} ${n === 1 ? "resource" : "resources"}` : null, size !== null ? formatBytes(size) : null]
          .filter(Boolean)
          .join(", "),
        tone: "ok",
      };
    }
    case "download_error":
      return { what: `Downloading ${fileOf(d.fileUrl)} failed`, detail: str(d.message) ?? undefined, tone: "error" };
    case "export_complete": {
      const n = num(d.resources) ?? 0;
      const ms = num(d.duration);
      return {
        what: `Export complete: ${formatCount(n)} ${n === 1 ? "resource" : "resources"}`,
        detail: [num(d.bytes) !== null ? formatBytes(num(d.bytes)!) : null, ms !== null ? `in ${formatDuration(ms / 1000)}` : null].filter(Boolean).join(" "),
        tone: "ok",
      };
    }
    case "export_error":
      return { what: "The export failed", detail: str(d.message) ?? undefined, tone: "error" };
    default:
      return { what: id.replace(/_/g, " "), tone: "muted" };
  }
}

/** Every line of the log as an entry; a line that is not an event is shown as it is (nothing is hidden). */
export function readLog(text: string): LogEntry[] {
  const entries: LogEntry[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      entries.push({ time: "", what: line, tone: "muted" });
      continue;
    }
    const r = (row ?? {}) as Detail;
    const id = str(r.eventId);
    if (!id) {
      entries.push({ time: "", what: line, tone: "muted" });
      continue;
    }
    const detail = r.eventDetail && typeof r.eventDetail === "object" ? (r.eventDetail as Detail) : {};
    entries.push({ time: str(r.timestamp) ?? "", ...sentence(id, detail) });
  }
  return entries;
}

import { formatCount } from "../../format";
// What the "Make tables" panel shows, as plain functions: tested without a window.
import type { Format } from "../../ipc/bindings/Format";
import type { TablesProgress } from "../../ipc/bindings/TablesProgress";
import type { ViewOutcome } from "../../ipc/bindings/ViewOutcome";

export const FORMAT_LABELS: Record<Format, string> = {
  xlsx: "Excel workbook (.xlsx)",
  csv: "CSV (.csv)",
  parquet: "Parquet (.parquet)",
};

export function progressText(p: TablesProgress | null): string {
  if (!p) return "Starting…";
  const pct = p.bytesTotal > 0 ? Math.floor((100 * p.bytesRead) / p.bytesTotal) : 100;
  return `${p.view} (${p.viewNumber} of ${p.views}): ${formatCount(p.rows)} rows so far (${pct}%)`;
}

/** One sentence for the finished run: how many views were written and how many stopped. */
export function headline(views: ViewOutcome[]): string {
  const written = views.filter((v) => v.failure === null);
  const rows = written.reduce((n, v) => n + v.rows, 0);
  const stopped = views.length - written.length;
  const made = `${written.length} of ${views.length} ${views.length === 1 ? "view" : "views"} written, ${formatCount(rows)} rows in all.`;
  return stopped === 0 ? made : `${made} ${stopped} stopped: ${stopped === 1 ? "its" : "their"} reason is below; no earlier file of ${stopped === 1 ? "it" : "them"} was replaced.`;
}

/** A file's name without its folder. */
export function fileName(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

/** Under a preview: how many of the view's rows are shown. */
export function rowsNote(shown: number, more: boolean): string {
  const rows = `${formatCount(shown)} ${shown === 1 ? "row" : "rows"}`;
  return more ? `The first ${rows}; there are more.` : `All ${rows}.`;
}

import { formatBytes, formatCount, formatDuration } from "../../format";
// What the Convert panel shows, as plain functions: tested without a window.
import type { ConversionReport } from "../../ipc/bindings/ConversionReport";
import type { ConvertProgress } from "../../ipc/bindings/ConvertProgress";
import type { DeltaReport } from "../../ipc/bindings/DeltaReport";


export function progressText(p: ConvertProgress | null): string {
  if (!p) return "Starting…";
  const pct = p.totalBytes > 0 ? Math.floor((100 * p.doneBytes) / p.totalBytes) : 0;
  const what = p.phase === "scanning" ? "reading every record to learn the schema" : "writing Parquet";
  return `${p.resourceType}: ${what} (${pct}%)`;
}

export interface ReportTotals {
  rows: number;
  tables: number;
  ndjsonBytes: number;
  parquetBytes: number;
  jsonColumns: number;
}

export function reportTotals(r: ConversionReport): ReportTotals {
  return {
    rows: r.types.reduce((n, t) => n + t.rows, 0),
    tables: r.types.filter((t) => t.outputFile !== null).length,
    ndjsonBytes: r.types.reduce((n, t) => n + t.ndjsonBytes, 0),
    parquetBytes: r.types.reduce((n, t) => n + t.outputBytes, 0),
    jsonColumns: r.types.reduce((n, t) => n + t.jsonColumns.length, 0),
  };
}

export function headline(r: ConversionReport): string {
  const t = reportTotals(r);
  const rows = formatCount(t.rows);
  const speed = r.seconds > 0 ? `, ${formatBytes(Math.round(t.ndjsonBytes / r.seconds))}/s` : "";
  return `${rows} resources in ${t.tables} ${t.tables === 1 ? "table" : "tables"}: ${formatBytes(t.ndjsonBytes)} of NDJSON became ${formatBytes(t.parquetBytes)} of Parquet in ${formatDuration(r.seconds)}${speed}.`;
}

export function deltaHeadline(r: DeltaReport): string {
  const written = r.tables.filter((t) => t.version !== null).length;
  const tables = `${written} Delta ${written === 1 ? "table" : "tables"}`;
  const how = r.incremental ? `The changes since the last export were merged into ${tables}` : `${tables} now hold this export`;
  const same = r.tables.length - written;
  const one = same === 1;
  const unchanged =
    same > 0 ? ` ${same} ${one ? "table" : "tables"} already held this export and ${one ? "was" : "were"} left as ${one ? "it was" : "they were"}.` : "";
  return `${how} in ${formatDuration(r.seconds)}.${unchanged}`;
}

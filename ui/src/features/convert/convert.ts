import { countOf, formatBytes, formatCount, formatDuration } from "../../format";
// What the Convert panel shows, as plain functions: tested without a window.
import type { ConversionReport } from "../../ipc/bindings/ConversionReport";
import type { ConvertProgress } from "../../ipc/bindings/ConvertProgress";
import type { DeltaReport } from "../../ipc/bindings/DeltaReport";
import type { Vacuumed } from "../../ipc/bindings/Vacuumed";


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

/** A table's retention as people say it: `7 days`, `1 week` is `7 days`, `36 hours`, `no time`. */
export function retentionText(seconds: number): string {
  if (seconds === 0) return "no time";
  const units: [number, string][] = [
    [86_400, "day"],
    [3600, "hour"],
    [60, "minute"],
  ];
  for (const [size, unit] of units) {
    if (seconds % size === 0) return countOf(seconds / size, unit);
  }
  return countOf(seconds, "second");
}

export interface VacuumTotals {
  files: number;
  bytes: number;
  tables: number;
  /** The tables' retention when they all keep the same, else null. */
  retention: number | null;
}

export function vacuumTotals(list: Vacuumed[]): VacuumTotals {
  const retentions = new Set(list.map((v) => v.retentionSeconds));
  return {
    files: list.reduce((n, v) => n + v.files.length, 0),
    bytes: list.reduce((n, v) => n + v.bytes, 0),
    tables: list.length,
    retention: retentions.size === 1 ? ([...retentions][0] ?? null) : null,
  };
}

/** What a look (dry run) or a removal of older versions' files found or did, in one sentence. */
export function vacuumHeadline(list: Vacuumed[]): string {
  const t = vacuumTotals(list);
  const tables = countOf(t.tables, "table");
  const dryRun = list.some((v) => v.dryRun);
  if (t.files === 0) {
    if (t.retention === 0) return `Nothing to remove in ${tables}: no older version holds files of its own.`;
    const kept = t.retention === null ? "as long as each table's retention says" : `for ${retentionText(t.retention)}`;
    return `Nothing to remove in ${tables}: the files a newer version replaced are kept ${kept}, so that a reader still on an older version is not broken.`;
  }
  const what = `${countOf(t.files, "file")} (${formatBytes(t.bytes)})`;
  const keepsNoTime = `${t.tables === 1 ? "this table keeps" : "these tables keep"} replaced files for no time`;
  if (dryRun) {
    const when =
      t.retention === null
        ? "versions replaced longer ago than each table's retention"
        : t.retention === 0
          ? `replaced versions, and ${keepsNoTime}`
          : `versions replaced more than ${retentionText(t.retention)} ago`;
    return `${what} in ${tables} ${t.files === 1 ? "belongs" : "belong"} only to ${when}. Removing ${t.files === 1 ? "it" : "them"} leaves every table's current version as it is; those older versions can no longer be read.`;
  }
  const kept =
    t.retention === null
      ? ", and so are the older versions each table's retention keeps"
      : t.retention === 0
        ? `; older versions can no longer be read, since ${keepsNoTime}`
        : `, and so are the versions replaced in the last ${retentionText(t.retention)}`;
  return `Removed ${what} from ${tables}. Every table's current version is as it was${kept}.`;
}

/** A table's address as the list shows it: its name under the address the panel names already. */
export function tableName(table: string, target: string): string {
  const root = target.trim().replace(/\/+$/, "");
  // A folder typed with a trailing slash names its tables `folder//Type`.
  return table.startsWith(`${root}/`) ? table.slice(root.length + 1).replace(/^\/+/, "") : table;
}

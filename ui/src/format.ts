// The one place numbers, sizes, durations and dates are written for people. Every page uses these, so a count
// reads the same in History, Files and Convert, and the same as in the engine's own sentences.

/**
 * A count with thousands separated: `1,892`. The separator is the engine's (`wording::thousands` in
 * export-jobs), so a number in a sentence from the engine and one in a table beside it look alike.
 */
export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}

/** `1 group`, `5 groups`, `1,200 groups`: a count with its noun, thousands separated. */
export function countOf(n: number, noun: string, plural = `${noun}s`): string {
  return `${formatCount(n)} ${n === 1 ? noun : plural}`;
}

/**
 * A size in bytes the way Haul writes it everywhere (History, Files, Convert, and the engine's own messages,
 * `human_bytes` in export-jobs): decimal units, one decimal place, "bytes" below 1 KB.
 */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} bytes`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u += 1;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

/** `2.5 s`, `12 s`, `5 min 3 s`, `2 h 10 min`. */
export function formatDuration(s: number): string {
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

/** The seconds between two ISO instants, or null when either is missing or unreadable. */
export function secondsBetween(from: string | null | undefined, to: string | null | undefined): number | null {
  if (!from || !to) return null;
  const s = (Date.parse(to) - Date.parse(from)) / 1000;
  return Number.isFinite(s) ? Math.max(0, s) : null;
}

const DATE_TIME: Intl.DateTimeFormatOptions = {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
};

/**
 * An instant in the user's own locale and time zone, to the second: `Nov 30, 2026, 12:28:47 PM`. Servers send
 * nanoseconds and UTC (`2026-11-30T12:28:47.189745713Z`); people read neither. Text that is not an instant is
 * shown as it came.
 */
export function formatDateTime(iso: string, locale?: string): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return iso;
  return new Date(t).toLocaleString(locale, DATE_TIME);
}

/** A calendar date in the user's locale (`Nov 30, 2026`); a date-time is shown with its time. */
export function formatDate(text: string, locale?: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return formatDateTime(text, locale);
  // Built from its parts: `new Date("2026-11-30")` is midnight UTC, the day before west of Greenwich.
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return d.toLocaleDateString(locale, { year: "numeric", month: "short", day: "numeric" });
}

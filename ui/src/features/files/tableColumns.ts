// Column widths for the Files table: fitted to what the first rows hold, then the user's to change. Pure,
// so it is tested without a window.

/** Roughly the width of one character of the table's text, in pixels (0.88rem of a system sans font). */
const CHAR_PX = 7.4;
const PADDING_PX = 24;
export const MIN_COLUMN_PX = 64;
const MAX_FITTED_PX = 360;

/** A width per column that fits its heading and the longest of its sampled cells, within bounds. */
export function fitWidths(headings: string[], rows: string[][]): number[] {
  return headings.map((h, i) => {
    const longest = rows.reduce((n, r) => Math.max(n, (r[i] ?? "").length), h.length);
    return Math.round(Math.min(MAX_FITTED_PX, Math.max(MIN_COLUMN_PX, longest * CHAR_PX + PADDING_PX)));
  });
}

/** Text split where `query` occurs (ignoring ASCII case, as Find does), the matches marked. */
export function splitMatches(text: string, query: string): { text: string; match: boolean }[] {
  if (!query) return [{ text, match: false }];
  const lower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
  const hay = lower(text);
  const needle = lower(query);
  const parts: { text: string; match: boolean }[] = [];
  let at = 0;
  for (let i = hay.indexOf(needle); i >= 0 && needle.length > 0; i = hay.indexOf(needle, at)) {
    if (i > at) parts.push({ text: text.slice(at, i), match: false });
    parts.push({ text: text.slice(i, i + needle.length), match: true });
    at = i + needle.length;
  }
  if (at < text.length) parts.push({ text: text.slice(at), match: false });
  return parts;
}

/** A row as tab-separated text, as spreadsheets paste it. */
export function rowAsTsv(cells: string[]): string {
  return cells.map((c) => c.replace(/[\t\n\r]+/g, " ")).join("\t");
}

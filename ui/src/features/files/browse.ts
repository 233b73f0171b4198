import type { LabelCount } from "../../ipc/bindings/LabelCount";

/** Rows fetched at a time while scrolling. */
export const PAGE_SIZE = 100;

/** The pages (of PAGE_SIZE rows) that hold rows first..last. */
export function pagesFor(first: number, last: number): number[] {
  if (last < first) return [];
  const pages: number[] = [];
  for (let p = Math.floor(first / PAGE_SIZE); p <= Math.floor(last / PAGE_SIZE); p++) pages.push(p);
  return pages;
}

export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}

export function percent(done: number, total: number): number {
  return total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100;
}

let tasks = 0;
/** A name for a find or chart count, so that its Stop button stops that one. */
export function taskName(kind: string): string {
  tasks += 1;
  return `${kind}-${Date.now()}-${tasks}`;
}

/** Months for the chart; spans over ten years are shown per year (a bar per month would be too thin to read). */
export function timeBars(perMonth: LabelCount[]): { bars: LabelCount[]; unit: "month" | "year" } {
  if (perMonth.length <= 120) return { bars: perMonth, unit: "month" };
  const years = new Map<string, number>();
  for (const m of perMonth) years.set(m.label.slice(0, 4), (years.get(m.label.slice(0, 4)) ?? 0) + m.count);
  return { bars: [...years].map(([label, count]) => ({ label, count })), unit: "year" };
}

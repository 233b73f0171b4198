export { formatCount } from "../../format";
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

/**
 * Browsers cap an element's height (WebKit and Chromium at about 33 million pixels): a million rows of 34 px
 * would not fit. Past this height the table's scroll range is scaled: the scrollbar's position picks the rows.
 */
export const MAX_SCROLL_PX = 4_000_000;

export interface RowWindow {
  /** Height of the scrolled content. */
  total: number;
  first: number;
  last: number;
  /** Where row `index` is drawn, from the top of the content. */
  top: (index: number) => number;
}

/** The rows to draw for a scroll position: all of `count` reachable, whatever its size. */
export function rowWindow(count: number, rowHeight: number, viewport: number, scrollTop: number, overscan = 10): RowWindow {
  const natural = count * rowHeight;
  if (count === 0) return { total: 0, first: 0, last: -1, top: () => 0 };
  if (natural <= MAX_SCROLL_PX) {
    return {
      total: natural,
      first: Math.max(0, Math.floor(scrollTop / rowHeight) - overscan),
      last: Math.min(count - 1, Math.floor((scrollTop + viewport) / rowHeight) + overscan),
      top: (i) => i * rowHeight,
    };
  }
  const total = MAX_SCROLL_PX;
  const visible = Math.ceil(viewport / rowHeight);
  const maxScroll = Math.max(1, total - viewport);
  const fraction = Math.min(1, Math.max(0, scrollTop / maxScroll));
  const anchor = fraction * Math.max(0, count - visible);
  return {
    total,
    first: Math.max(0, Math.floor(anchor) - overscan),
    last: Math.min(count - 1, Math.ceil(anchor) + visible + overscan),
    top: (i) => scrollTop + (i - anchor) * rowHeight,
  };
}

import { describe, expect, it } from "vitest";
import { MAX_SCROLL_PX, pagesFor, percent, rowWindow, timeBars } from "./browse";

describe("browse helpers", () => {
  it("finds the pages a range of rows needs", () => {
    expect(pagesFor(0, 0)).toEqual([0]);
    expect(pagesFor(95, 205)).toEqual([0, 1, 2]);
    expect(pagesFor(5, 4)).toEqual([]);
  });

  it("formats percentages", () => {
    expect(percent(1, 3)).toBe(33);
    expect(percent(0, 0)).toBe(100);
  });

  it("groups long spans of months into years", () => {
    const months = Array.from({ length: 130 }, (_, i) => ({
      label: `${2000 + Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, "0")}`,
      count: 1,
    }));
    const { bars, unit } = timeBars(months);
    expect(unit).toBe("year");
    expect(bars[0]).toEqual({ label: "2000", count: 12 });
    expect(bars.reduce((s, b) => s + b.count, 0)).toBe(130);
    expect(timeBars(months.slice(0, 3)).unit).toBe("month");
  });
});

describe("rowWindow", () => {
  it("draws the rows in view, plus a few either side", () => {
    const w = rowWindow(1000, 34, 340, 3400, 2);
    expect([w.first, w.last, w.total, w.top(100)]).toEqual([98, 112, 34_000, 3400]);
    expect(rowWindow(0, 34, 340, 0).last).toBe(-1);
  });

  it("keeps every row of a huge table reachable by scaling the scroll range", () => {
    const count = 5_000_000;
    const top = rowWindow(count, 34, 680, 0, 0);
    expect(top.total).toBe(MAX_SCROLL_PX);
    expect([top.first, top.top(0)]).toEqual([0, 0]);
    const end = rowWindow(count, 34, 680, MAX_SCROLL_PX - 680, 0);
    expect(end.last).toBe(count - 1);
    // The last row sits inside the viewport at the bottom.
    const lastTop = end.top(count - 1);
    expect(lastTop).toBeGreaterThanOrEqual(MAX_SCROLL_PX - 680);
    expect(lastTop + 34).toBeLessThanOrEqual(MAX_SCROLL_PX);
    const middle = rowWindow(count, 34, 680, (MAX_SCROLL_PX - 680) / 2, 0);
    expect(Math.abs(middle.first - count / 2)).toBeLessThan(20);
  });
});

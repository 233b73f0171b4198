import { describe, expect, it } from "vitest";
import { formatBytes, pagesFor, percent, timeBars } from "./browse";

describe("browse helpers", () => {
  it("finds the pages a range of rows needs", () => {
    expect(pagesFor(0, 0)).toEqual([0]);
    expect(pagesFor(95, 205)).toEqual([0, 1, 2]);
    expect(pagesFor(5, 4)).toEqual([]);
  });

  it("formats sizes and percentages", () => {
    expect(formatBytes(999)).toBe("999 B");
    expect(formatBytes(1_500_000)).toBe("1.5 MB");
    expect(formatBytes(25_300_000_000)).toBe("25 GB");
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

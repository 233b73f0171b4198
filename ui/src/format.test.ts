import { describe, expect, it } from "vitest";
import { countOf, formatBytes, formatCount, formatDate, formatDateTime, formatDuration, secondsBetween } from "./format";

describe("format", () => {
  it("separates thousands and names the noun", () => {
    expect(formatCount(1892)).toBe("1,892");
    expect(countOf(1, "group")).toBe("1 group");
    expect(countOf(5, "group")).toBe("5 groups");
    expect(countOf(0, "group")).toBe("0 groups");
    expect(countOf(12_345, "group")).toBe("12,345 groups");
    expect(countOf(1200, "entry", "entries")).toBe("1,200 entries");
  });

  it("writes sizes as the engine's messages do, and durations", () => {
    expect(formatBytes(0)).toBe("0 bytes");
    expect(formatBytes(999)).toBe("999 bytes");
    expect(formatBytes(1000)).toBe("1.0 KB");
    expect(formatBytes(51_800)).toBe("51.8 KB");
    expect(formatBytes(1_500_000)).toBe("1.5 MB");
    expect(formatBytes(25_300_000_000)).toBe("25.3 GB");
    expect(formatBytes(4_000_000_000_000_000)).toBe("4000.0 TB");
    expect(formatDuration(2.5)).toBe("2.5 s");
    expect(formatDuration(303)).toBe("5 min 3 s");
    expect(formatDuration(7800)).toBe("2 h 10 min");
    expect(secondsBetween("2026-11-30T12:00:00Z", "2026-11-30T12:00:03.5Z")).toBe(3.5);
    expect(secondsBetween("2026-11-30T12:00:00Z", null)).toBeNull();
  });

  it("shows instants to the second in the user's locale, without nanoseconds", () => {
    const shown = formatDateTime("2026-11-30T12:28:47.189745713Z", "en-US");
    expect(shown).toMatch(/^Nov 30, 2026, \d\d:28:47 (AM|PM)$/);
    expect(shown).not.toContain("189");
    expect(formatDateTime("not a date")).toBe("not a date");
  });

  it("keeps a calendar date on its day whatever the time zone", () => {
    expect(formatDate("2026-11-01", "en-US")).toBe("Nov 1, 2026");
  });
});

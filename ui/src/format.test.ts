import { describe, expect, it } from "vitest";
import { countOf, formatBytes } from "./format";

describe("formatBytes", () => {
  it("writes sizes as the engine's messages do", () => {
    expect(formatBytes(0)).toBe("0 bytes");
    expect(formatBytes(999)).toBe("999 bytes");
    expect(formatBytes(1000)).toBe("1.0 KB");
    expect(formatBytes(51_800)).toBe("51.8 KB");
    expect(formatBytes(1_500_000)).toBe("1.5 MB");
    expect(formatBytes(25_300_000_000)).toBe("25.3 GB");
    expect(formatBytes(4_000_000_000_000_000)).toBe("4000.0 TB");
  });
});

describe("countOf", () => {
  it("says 5 groups, not 5 group(s), with thousands separated", () => {
    expect(countOf(1, "group")).toBe("1 group");
    expect(countOf(5, "group")).toBe("5 groups");
    expect(countOf(0, "group")).toBe("0 groups");
    expect(countOf(12_345, "group")).toBe("12,345 groups");
  });
});

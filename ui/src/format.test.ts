import { describe, expect, it } from "vitest";
import { formatBytes } from "./format";

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

import { describe, expect, it } from "vitest";
import { fitWidths, rowAsTsv, splitMatches } from "./tableColumns";

describe("the Files table's columns", () => {
  it("fits each column to its heading and its longest sampled cell, within bounds", () => {
    const [id, name, note] = fitWidths(["id", "name", "note"], [["p1", "Ada", "x".repeat(500)]]);
    expect(id).toBe(64);
    expect(name).toBeGreaterThanOrEqual(64);
    expect(note).toBe(360);
  });

  it("marks every match of the find text, ignoring case", () => {
    expect(splitMatches("Heart rate, heart RATE", "heart")).toEqual([
      { text: "Heart", match: true },
      { text: " rate, ", match: false },
      { text: "heart", match: true },
      { text: " RATE", match: false },
    ]);
    expect(splitMatches("abc", "")).toEqual([{ text: "abc", match: false }]);
  });

  it("copies a row as tab-separated text", () => {
    expect(rowAsTsv(["1", "a\tb", "c\nd"])).toBe("1\ta b\tc d");
  });
});

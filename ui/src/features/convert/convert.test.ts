import { describe, expect, it } from "vitest";
import { headline, progressText, reportTotals } from "./convert";
import { report, typeReport } from "./fixtures";

describe("the conversion's words", () => {
  it("says which pass it is in and how far", () => {
    expect(progressText(null)).toBe("Starting…");
    expect(progressText({ resourceType: "Observation", phase: "scanning", doneBytes: 25, totalBytes: 100 })).toBe(
      "Observation: reading every record to learn the schema (25%)",
    );
    expect(progressText({ resourceType: "Observation", phase: "writing", doneBytes: 0, totalBytes: 0 })).toBe(
      "Observation: writing Parquet (0%)",
    );
  });

  it("adds up the tables, not counting types that had no good line", () => {
    const r = report({
      types: [
        typeReport({ rows: 1200, ndjsonBytes: 2_000_000, outputBytes: 300_000 }),
        typeReport({ resourceType: "Condition", rows: 0, outputFile: null, outputBytes: 0, ndjsonBytes: 0 }),
      ],
      seconds: 2,
    });
    expect(reportTotals(r).tables).toBe(1);
    expect(headline(r)).toBe(
      "1,200 resources in 1 table: 2.0 MB of NDJSON became 300.0 KB of Parquet in 2.0 s, 1.0 MB/s.",
    );
  });
});

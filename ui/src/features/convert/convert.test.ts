import { describe, expect, it } from "vitest";
import { headline, progressText, reportTotals, retentionText, tableName, vacuumHeadline } from "./convert";
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

describe("a table's retention in words", () => {
  it("uses the largest whole unit", () => {
    expect(retentionText(0)).toBe("no time");
    expect(retentionText(7 * 86_400)).toBe("7 days");
    expect(retentionText(86_400)).toBe("1 day");
    expect(retentionText(36 * 3600)).toBe("36 hours");
    expect(retentionText(90)).toBe("90 seconds");
    expect(retentionText(120)).toBe("2 minutes");
  });

  it("names each table's retention when they differ", () => {
    const v = (retentionSeconds: number) => ({ table: "t", retentionSeconds, files: [] as string[], bytes: 0, dryRun: true, asOfMs: 0 });
    expect(vacuumHeadline([v(3600), v(7200)])).toContain("kept as long as each table's retention says");
    expect(vacuumHeadline([{ ...v(3600), files: ["a"], bytes: 5 }, v(7200)])).toContain(
      "belongs only to versions replaced longer ago than each table's retention",
    );
  });

  it("does not say a table kept for no time keeps anything", () => {
    const v = { table: "t", retentionSeconds: 0, files: [] as string[], bytes: 0, dryRun: true, asOfMs: 0 };
    expect(vacuumHeadline([v])).toBe("Nothing to remove in 1 table: no older version holds files of its own.");
    expect(vacuumHeadline([{ ...v, files: ["a"], bytes: 5 }])).toBe(
      "1 file (5 bytes) in 1 table belongs only to replaced versions, and this table keeps replaced files for no time. Removing it leaves every table's current version as it is; those older versions can no longer be read.",
    );
    expect(vacuumHeadline([{ ...v, files: ["a"], bytes: 5, dryRun: false }])).toBe(
      "Removed 1 file (5 bytes) from 1 table. Every table's current version is as it was; older versions can no longer be read, since this table keeps replaced files for no time.",
    );
  });
});

describe("a Delta table's name in a list under its address", () => {
  it("is the part under the address, whatever its trailing slash", () => {
    expect(tableName("s3://lake/tables/Patient", "s3://lake/tables")).toBe("Patient");
    expect(tableName("/data/lake/Patient", " /data/lake/ ")).toBe("Patient");
    // The address as the backend makes it from a folder typed with its trailing slash.
    expect(tableName("/data/lake//Patient", "/data/lake/")).toBe("Patient");
  });
  it("stays whole when it is not under the address", () => {
    expect(tableName("/data/lake2/Patient", "/data/lake")).toBe("/data/lake2/Patient");
  });
});

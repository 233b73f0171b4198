import { describe, expect, it } from "vitest";
import { fileName, headline, progressText, rowsNote } from "./tables";
import { outcome } from "./fixtures";

describe("Make tables wording", () => {
  it("says where the run is", () => {
    expect(progressText(null)).toBe("Starting…");
    expect(progressText({ view: "observation", viewNumber: 2, views: 3, bytesRead: 50, bytesTotal: 200, rows: 12345 })).toBe(
      "observation (2 of 3): 12,345 rows so far (25%)",
    );
    // A view with no files of its type is done at once.
    expect(progressText({ view: "coverage", viewNumber: 1, views: 1, bytesRead: 0, bytesTotal: 0, rows: 0 })).toContain("(100%)");
  });

  it("counts what was written and what stopped", () => {
    expect(headline([outcome({ rows: 10 }), outcome({ view: "b", rows: 5 })])).toBe("2 of 2 views written, 15 rows in all.");
    const stopped = outcome({ view: "c", rows: 0, failure: { message: "x", file: null, line: null, resourceId: null } });
    expect(headline([outcome({ rows: 3 }), stopped])).toContain("1 of 2 views written, 3 rows in all. 1 stopped");
  });

  it("says how many preview rows are shown", () => {
    expect(rowsNote(20, true)).toBe("The first 20 rows; there are more.");
    expect(rowsNote(1, false)).toBe("All 1 row.");
    expect(rowsNote(0, false)).toBe("All 0 rows.");
  });

  it("shows file names without folders", () => {
    expect(fileName("/home/a/tables/patient.xlsx")).toBe("patient.xlsx");
    expect(fileName("C:\\exports\\tables\\patient.csv")).toBe("patient.csv");
  });
});

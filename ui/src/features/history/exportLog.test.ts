import { describe, expect, it } from "vitest";
import { readLog } from "./exportLog";

const line = (eventId: string, eventDetail: object) =>
  JSON.stringify({ exportId: "x", timestamp: "2026-11-30T12:28:47.189Z", eventId, eventDetail });

describe("readLog", () => {
  it("turns the reference client's events into sentences", () => {
    const text = [
      line("kickoff", { exportUrl: "https://ehr.example/fhir/Group/g/$export", errorCode: null, errorBody: null }),
      line("status_progress", { xProgress: "40%", retryAfter: 5 }),
      line("manifest_complete", { totalOutputFileCount: 4, totalDeletedFileCount: 1, totalErrorFileCount: 0 }),
      line("download_complete", { fileUrl: "https://files.example/out/Patient.000.ndjson?sig=abc", resourceCount: 1892, fileSize: 3_000_000 }),
      line("download_error", { fileUrl: "https://files.example/out/Claim.000.ndjson", message: "The file expired" }),
      line("export_complete", { resources: 1892, bytes: 3_000_000, duration: 3300 }),
    ].join("\n");
    const entries = readLog(text);
    expect(entries.map((e) => e.what)).toEqual([
      "Export requested",
      "The server is preparing the files: 40%",
      "List of files received: 4 files of resources, 1 of deletions",
      "Downloaded Patient.000.ndjson",
      "Downloading Claim.000.ndjson failed",
      "Export complete: 1,892 resources",
    ]);
    expect(entries[1]?.detail).toBe("asked to check again in 5.0 s");
    expect(entries[3]?.detail).toBe("1,892 resources, 3.0 MB");
    expect(entries[4]).toMatchObject({ tone: "error", detail: "The file expired" });
    expect(entries[5]?.detail).toBe("3.0 MB in 3.3 s");
  });

  it("shows a refused kickoff as an error and keeps lines it cannot read", () => {
    const entries = readLog(`${line("kickoff", { errorCode: 403, errorBody: "Forbidden" })}\nnot json\n\n{"a":1}`);
    expect(entries[0]).toMatchObject({ what: "The server refused the export (HTTP 403)", tone: "error", detail: "Forbidden" });
    expect(entries[1]).toMatchObject({ what: "not json", tone: "muted" });
    expect(entries[2]).toMatchObject({ what: '{"a":1}' });
    expect(entries).toHaveLength(3);
  });
});

import { formatDuration } from "../../format";
import { describe, expect, it } from "vitest";
import type { JobEvent } from "../../ipc/bindings/JobEvent";
import { applyEvent, initialProgress, totalsByType, waitingText } from "./progress";

const run = (events: JobEvent[]) => events.reduce((p, e) => applyEvent(p, e), initialProgress);

describe("progress from engine events", () => {
  it("follows a job from kickoff to verified files", () => {
    const p = run([
      { event: "state", state: "kicked_off" },
      { event: "progress", text: "42% done" },
      { event: "manifest", files: 3, transactionTime: "2026-11-01T00:00:00Z" },
      { event: "file_started", seq: 0, name: "Patient.000.ndjson", resourceType: "Patient", resumeFrom: 0 },
      { event: "file_progress", seq: 0, bytes: 500, total: 1000 },
      { event: "file_started", seq: 1, name: "Observation.000.ndjson", resourceType: "Observation", resumeFrom: 0 },
      { event: "file_verified", seq: 0, name: "Patient.000.ndjson", resources: 3, bytes: 1000, badLines: 1 },
      { event: "file_started", seq: 2, name: "error/OperationOutcome.000.ndjson", resourceType: "OperationOutcome", resumeFrom: 0 },
      { event: "file_verified", seq: 2, name: "error/OperationOutcome.000.ndjson", resources: 1, bytes: 90, badLines: 0 },
    ]);
    expect(p.state).toBe("downloading");
    expect(p.expires).toBeNull();
    expect(p.files[0]).toMatchObject({ status: "verified", resources: 3, badLines: 1, bytes: 1000 });
    expect(p.files[1]).toMatchObject({ status: "downloading", bytes: 0 });
    expect(totalsByType(p)).toEqual([
      { resourceType: "Observation", files: 1, resources: 0, bytes: 0 },
      { resourceType: "Patient", files: 1, resources: 3, bytes: 1000 },
    ]);
  });

  it("remembers until when the server keeps the files", () => {
    const p = run([
      { event: "manifest", files: 1, transactionTime: "2026-11-01T00:00:00Z", expires: "Tue, 01 Dec 2026 10:00:00 GMT" },
    ]);
    expect(p.expires).toBe("Tue, 01 Dec 2026 10:00:00 GMT");
  });

  it("keeps warnings, shows waits, and ends with the engine's sentence", () => {
    const p = run([
      { event: "waiting", reason: "The server is busy (HTTP 429).", seconds: 5 },
      { event: "warning", message: "The server asked Haul to wait 10.0 hours; Haul waits 5 minutes instead." },
      { event: "file_failed", seq: 4, name: "Claim.000.ndjson", message: "expired" },
      { event: "finished", state: "failed", message: "1 of 5 files could not be downloaded" },
    ]);
    expect(p.waiting).toBeNull();
    expect(p.warnings).toHaveLength(1);
    expect(p.files[4]).toMatchObject({ status: "failed", message: "expired" });
    expect(p.finished).toEqual({ state: "failed", message: "1 of 5 files could not be downloaded" });
  });

  it("a resumed file starts where it stopped; progress for unknown files is ignored", () => {
    const p = run([
      { event: "file_progress", seq: 9, bytes: 10, total: null },
      { event: "file_started", seq: 1, name: "Patient.000.ndjson", resourceType: "Patient", resumeFrom: 700 },
    ]);
    expect(p.files[9]).toBeUndefined();
    expect(p.files[1]?.bytes).toBe(700);
  });

  it("a wait counts down from when it was announced", () => {
    const p = applyEvent(initialProgress, { event: "waiting", reason: "The server is busy (HTTP 429).", seconds: 3.7 }, 1_000);
    expect(p.waiting).toEqual({ reason: "The server is busy (HTTP 429).", until: 4_700 });
    expect(waitingText(p.waiting!, 1_000)).toBe("The server is busy (HTTP 429). (next try in 3.7 s)");
    expect(waitingText(p.waiting!, 3_000)).toBe("The server is busy (HTTP 429). (next try in 1.7 s)");
    expect(waitingText(p.waiting!, 9_000)).toBe("The server is busy (HTTP 429). (next try in 0.0 s)");
  });

  it("formats waits", () => {
    expect(formatDuration(2.5)).toBe("2.5 s");
    expect(formatDuration(300)).toBe("5 min 0 s");
  });
});

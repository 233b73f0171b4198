import { describe, expect, it } from "vitest";
import { job } from "./fixtures";
import { statusText, whatText } from "./HistoryPage";
import { formatDateTime } from "../../format";


describe("history rows", () => {
  it("tell running, interrupted and finished exports apart", () => {
    expect(statusText({ job: job({ state: "downloading" }), totals: [], deletions: 0, running: true, filesPresent: true, serverName: null, groupName: null })).toBe("Downloading (running)");
    expect(statusText({ job: job({ state: "downloading" }), totals: [], deletions: 0, running: false, filesPresent: true, serverName: null, groupName: null })).toBe("Interrupted: resume");
    expect(statusText({ job: job({ state: "completed_with_problems" }), totals: [], deletions: 0, running: false, filesPresent: true, serverName: null, groupName: null })).toBe(
      "Completed with problems",
    );
  });

  it("say what was exported", () => {
    expect(whatText(job({}))).toBe("Group aco-north");
    const j = job({});
    j.request = { ...j.request, level: { kind: "system" }, types: ["Patient", "Claim"], since: "2026-10-01T00:00:00Z" };
    expect(whatText(j)).toBe(`Everything · Patient, Claim · changes since ${formatDateTime("2026-10-01T00:00:00Z")}`);
    expect(whatText(job({}), "ACO North Regional")).toBe("ACO North Regional");
  });
});

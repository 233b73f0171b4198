import { describe, expect, it } from "vitest";
import type { ExportSummary } from "../../ipc/commands";
import { statusText, whatText } from "./HistoryPage";

const job = (over: Partial<ExportSummary["job"]>): ExportSummary["job"] => ({
  id: 1,
  serverId: 1,
  fhirUrl: "https://ehr.test/fhir",
  request: {
    level: { kind: "group", groupId: "aco-north" },
    outputFormat: null,
    since: null,
    types: [],
    elements: [],
    patients: [],
    typeFilters: [],
    includeAssociatedData: [],
    lenient: false,
    post: false,
    extra: [],
  },
  settings: { parallel: 4, deleteAfter: true, auth: null },
  outDir: "/x",
  state: "completed",
  statusUrl: null,
  progress: null,
  transactionTime: null,
  expires: null,
  problems: [],
  failure: null,
  createdAt: "2026-11-01T10:00:00Z",
  kickedOffAt: null,
  completedAt: null,
  updatedAt: "2026-11-01T10:00:00Z",
  ...over,
});

describe("history rows", () => {
  it("tell running, interrupted and finished exports apart", () => {
    expect(statusText({ job: job({ state: "downloading" }), totals: [], running: true })).toBe("Downloading (running)");
    expect(statusText({ job: job({ state: "downloading" }), totals: [], running: false })).toBe("Interrupted: resume");
    expect(statusText({ job: job({ state: "completed_with_problems" }), totals: [], running: false })).toBe(
      "Completed with problems",
    );
  });

  it("say what was exported", () => {
    expect(whatText(job({}))).toBe("Group aco-north");
    const j = job({});
    j.request = { ...j.request, level: { kind: "system" }, types: ["Patient", "Claim"], since: "2026-10-01T00:00:00Z" };
    expect(whatText(j)).toBe("Everything · Patient, Claim · since 2026-10-01T00:00:00Z");
  });
});

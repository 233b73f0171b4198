import { describe, expect, it } from "vitest";
import type { ExportSummary } from "../../ipc/commands";
import { job } from "../history/fixtures";
import { againCandidates, homeLists } from "./home";

const row = (over: Partial<ExportSummary["job"]>, extra: Partial<ExportSummary> = {}): ExportSummary => ({
  job: job(over),
  totals: [],
  deletions: 0,
  running: false,
  filesPresent: true,
  serverName: "Demo server",
  groupName: null,
  ...extra,
});

describe("the home screen's lists", () => {
  it("offers each request once, its newest finished run first", () => {
    const rows = [
      row({ id: 1 }),
      row({ id: 2 }),
      row({ id: 3, state: "failed" }),
      row({ id: 4, request: { ...job({}).request, level: { kind: "group", groupId: "aco-south" } } }),
      row({ id: 5, settings: { parallel: 4, deleteAfter: true, auth: null, newMembersOf: 2 } }),
    ];
    expect(againCandidates(rows).map((r) => r.job.id)).toEqual([4, 2]);
  });

  it("separates what runs here from what was interrupted", () => {
    const lists = homeLists([row({ id: 1, state: "downloading" }, { running: true }), row({ id: 2, state: "kicked_off" }), row({ id: 3 })]);
    expect(lists.running.map((r) => r.job.id)).toEqual([1]);
    expect(lists.interrupted.map((r) => r.job.id)).toEqual([2]);
    expect(lists.recent.map((r) => r.job.id)).toEqual([3, 2, 1]);
  });
});

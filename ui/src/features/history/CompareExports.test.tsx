import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { ExportSummary } from "../../ipc/commands";
import type { Comparison } from "../../ipc/bindings/Comparison";
import { CompareExports, comparable } from "./CompareExports";
import { job } from "./fixtures";

const { compareExports } = vi.hoisted(() => ({ compareExports: vi.fn() }));
vi.mock("../../ipc/commands", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../ipc/commands")>();
  return { ...real, commands: { ...real.commands, compareExports } };
});

const summary = (over: Parameters<typeof job>[0]): ExportSummary => ({ job: job(over), totals: [], deletions: 0, running: false, filesPresent: true, serverName: null, groupName: null });
const group = (id: string) => ({ kind: "group" as const, groupId: id });

const result: Comparison = {
  types: [
    { resourceType: "Patient", before: 120, after: 124, added: 6, changed: 10, deleted: 0, deletedNotHeld: 0, removed: 2 },
    { resourceType: "Condition", before: 1500, after: 1620, added: 130, changed: 40, deleted: 3, deletedNotHeld: 0, removed: 7 },
  ],
  patientsJoined: ["p-201", "p-202"],
  patientsJoinedCount: 6,
  patientsLeft: ["p-007"],
  patientsLeftCount: 2,
  badLines: 0,
  incremental: false,
};

beforeEach(() => compareExports.mockReset().mockResolvedValue(result));

describe("comparing two runs of an export", () => {
  it("offers only finished runs of the same server and level", () => {
    const me = job({ id: 5, state: "completed", request: { ...job({}).request, level: group("aco") } });
    const rows = [
      summary({ id: 5, state: "completed", request: me.request }),
      summary({ id: 4, state: "completed", request: me.request }),
      summary({ id: 3, state: "failed", request: me.request }),
      summary({ id: 2, state: "completed", request: { ...me.request, level: group("other") } }),
      summary({ id: 1, state: "completed", request: me.request, serverId: 9 }),
      // The same saved server at another address (the demo's changes at every start).
      summary({ id: 0, state: "completed", request: me.request, fhirUrl: "http://127.0.0.1:5/fhir" }),
      // Export 4's new members' records: part of it, not a run to compare with.
      summary({ id: 6, state: "completed", request: me.request, settings: { ...me.settings, newMembersOf: 4 } }),
    ];
    expect(comparable(me, rows).map((r) => r.job.id)).toEqual([4, 0]);
    const unsaved = { ...me, serverId: null };
    // Without a saved server, the address decides.
    expect(comparable(unsaved, rows.map((r) => ({ ...r, job: { ...r.job, serverId: null } }))).map((r) => r.job.id)).toEqual([4, 1]);
  });

  it("shows counts side by side, what changed, and who joined and left", async () => {
    const me = job({ id: 5, state: "completed" });
    render(<CompareExports job={me} candidates={[summary({ id: 4, state: "completed" })]} />);
    await userEvent.click(screen.getByTestId("compare-run"));
    expect(compareExports).toHaveBeenCalledWith(5, 4);
    const table = await screen.findByTestId("comparison-table");
    expect(table.textContent).toContain("1,500");
    expect(table.textContent).toContain("1,620");
    expect(screen.getByTestId("comparison-chart").textContent).toContain("1,500 → 1,620");
    expect(screen.getByTestId("patients-joined").textContent).toContain("Patients who joined: 6");
    expect(screen.getByTestId("patients-joined").textContent).toContain("p-201, p-202, and 4 more");
    expect(screen.queryByTestId("deleted-not-held")).toBeNull();
  });

  it("tells apart deletions of resources the earlier run never held", async () => {
    const claim = { resourceType: "Claim", before: 875, after: 875, added: 0, changed: 0, deleted: 0, deletedNotHeld: 2, removed: 0 };
    compareExports.mockResolvedValueOnce({ ...result, types: [claim], incremental: true });
    render(<CompareExports job={job({ id: 5, state: "completed" })} candidates={[summary({ id: 4, state: "completed" })]} />);
    await userEvent.click(screen.getByTestId("compare-run"));
    expect((await screen.findByTestId("comparison-table")).textContent).toContain("Claim8758750000");
    expect(screen.getByTestId("deleted-not-held").textContent).toBe(
      "The later export also listed deletions of resources the earlier one did not hold (2 Claim): created since, deleted before it, or of patients it did not cover, they change nothing here.",
    );
  });

  it("says why when the comparison cannot be made", async () => {
    compareExports.mockRejectedValueOnce({ code: "not_found", message: "The folder of this export, /x, is not there any more" });
    render(<CompareExports job={job({ id: 5 })} candidates={[summary({ id: 4, state: "completed" })]} />);
    await userEvent.click(screen.getByTestId("compare-run"));
    expect((await screen.findByText(/is not there any more/)).textContent).toBeTruthy();
  });
});

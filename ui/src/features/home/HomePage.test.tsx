import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { ExportSummary } from "../../ipc/commands";
import { job } from "../history/fixtures";
import { HomePage } from "./HomePage";

const { listExports, listServers, listSchedules } = vi.hoisted(() => ({
  listExports: vi.fn(),
  listServers: vi.fn(),
  listSchedules: vi.fn(),
}));
vi.mock("../../ipc/commands", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../ipc/commands")>();
  return { ...real, commands: { ...real.commands, listExports, listServers, listSchedules } };
});

const row = (id: number, over: Partial<ExportSummary["job"]> = {}, extra: Partial<ExportSummary> = {}): ExportSummary => ({
  job: job({ id, ...over }),
  totals: [{ resourceType: "Patient", files: 1, resources: 1200, bytes: 55_700 }],
  deletions: 0,
  running: false,
  filesPresent: true,
  serverName: "Demo server",
  groupName: "ACO North Regional",
  ...extra,
});

beforeEach(() => {
  listServers.mockReset().mockResolvedValue([{ id: 7, name: "Demo server", builtin: true }]);
  listSchedules.mockReset().mockResolvedValue([]);
});

describe("the home screen", () => {
  it("shows a first-time user the way to a first export on the demo server", async () => {
    listExports.mockReset().mockResolvedValue([]);
    const onExport = vi.fn();
    render(<HomePage onExport={onExport} onShowExport={() => {}} onAddServer={() => {}} />);
    await userEvent.click(await screen.findByTestId("home-try-demo"));
    expect(onExport).toHaveBeenCalledWith({ serverId: 7, level: "group", groupId: "aco-north" });
  });

  it("shows a returning user what runs, their schedules and the request to make again", async () => {
    listExports.mockReset().mockResolvedValue([row(3, { state: "downloading" }, { running: true }), row(2), row(1)]);
    listSchedules.mockResolvedValue([
      { id: 1, exportId: 2, cadence: "monthly", at: "06:00", createdAt: "2026-11-01T00:00:00Z", lastRunAt: null, lastJobId: null, lastOutcome: null, lastMessage: null },
    ]);
    const onExport = vi.fn();
    const onShowExport = vi.fn();
    render(<HomePage onExport={onExport} onShowExport={onShowExport} onAddServer={() => {}} />);
    expect((await screen.findByTestId("home-now")).textContent).toContain("Downloading (running)");
    expect(screen.queryByTestId("home-welcome")).toBeNull();
    expect((await screen.findByTestId("home-scheduled")).textContent).toContain("Every month at 06:00");
    // The same request twice: offered once, from its newest run; by the group's name.
    expect(screen.getByTestId("home-again-2").textContent).toContain("ACO North Regional");
    expect(screen.queryByTestId("home-again-1")).toBeNull();
    await userEvent.click(screen.getByRole("button", { name: /Export again/ }));
    expect(onExport).toHaveBeenCalledWith(expect.objectContaining({ serverId: 1, level: "group", groupId: "aco-north" }));
    await userEvent.click(screen.getAllByRole("button", { name: "ACO North Regional" })[0]!);
    expect(onShowExport).toHaveBeenCalledWith(3);
    expect(screen.getByTestId("home-recent").textContent).toContain("55.7 KB");
  });
});

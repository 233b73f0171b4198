import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { Schedule } from "../../ipc/bindings/Schedule";
import { RepeatExport } from "./RepeatExport";

const { listSchedules, scheduleExport, removeSchedule } = vi.hoisted(() => ({
  listSchedules: vi.fn(),
  scheduleExport: vi.fn(),
  removeSchedule: vi.fn(),
}));
vi.mock("../../ipc/commands", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../ipc/commands")>();
  return { ...real, commands: { ...real.commands, listSchedules, scheduleExport, removeSchedule } };
});

const monthly: Schedule = {
  id: 3,
  exportId: 7,
  cadence: "monthly",
  at: "06:00",
  createdAt: "2026-11-30T05:00:00Z",
  lastRunAt: "2026-12-01T06:00:04Z",
  lastJobId: 9,
  lastOutcome: "completed",
  lastMessage: "Export complete: 120 resources in 4 files (80.0 KB), all verified.",
};

beforeEach(() => {
  listSchedules.mockReset().mockResolvedValue([monthly, { ...monthly, id: 4, exportId: 8 }]);
  scheduleExport.mockReset().mockResolvedValue({ schedule: monthly, note: "Turn it on with: systemctl --user enable --now haul-schedule-3.timer" });
  removeSchedule.mockReset().mockResolvedValue(null);
});

describe("repeating an export", () => {
  it("lists this export's schedules with their last run, and adds one as chosen", async () => {
    render(<RepeatExport exportId={7} />);
    const list = await screen.findByTestId("repeat-list");
    expect(list.textContent).toContain("monthly at 06:00");
    expect(list.textContent).toContain("all verified");
    expect(screen.getAllByRole("listitem")).toHaveLength(1);
    await userEvent.selectOptions(screen.getByLabelText("How often"), "weekly");
    await userEvent.clear(screen.getByTestId("repeat-at"));
    await userEvent.type(screen.getByTestId("repeat-at"), "18:30");
    await userEvent.click(screen.getByTestId("repeat-add"));
    await waitFor(() => expect(scheduleExport).toHaveBeenCalledWith(7, "weekly", "18:30"));
    expect((await screen.findByTestId("repeat-note")).textContent).toContain("systemctl --user enable --now");
  });

  it("stops repeating, and says why when the scheduler refuses", async () => {
    render(<RepeatExport exportId={7} />);
    await userEvent.click(await screen.findByRole("button", { name: "Stop repeating" }));
    expect(removeSchedule).toHaveBeenCalledWith(3);
    scheduleExport.mockRejectedValueOnce({ code: "invalid_input", message: "The system's scheduler refused the schedule: denied" });
    await userEvent.click(screen.getByTestId("repeat-add"));
    expect((await screen.findByText(/refused the schedule/)).textContent).toBeTruthy();
  });
});

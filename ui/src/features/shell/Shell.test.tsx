import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { job } from "../history/fixtures";
import { Shell } from "./Shell";

const { listExports } = vi.hoisted(() => ({ listExports: vi.fn() }));
vi.mock("../../ipc/commands", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../ipc/commands")>();
  // Every other command answers nothing: the pages are not what this test is about.
  const quiet = Object.fromEntries(Object.keys(real.commands).map((k) => [k, vi.fn().mockResolvedValue([])]));
  return { ...real, commands: { ...quiet, listExports } };
});

describe("the shell", () => {
  it("drops the 'interrupted' banner once that export was resumed or cancelled", async () => {
    listExports.mockResolvedValue([{ job: job({ id: 5, state: "downloading" }), totals: [], running: false }]);
    render(<Shell />);
    // Haul opens on the home screen, which lists it itself (no banner there).
    expect((await screen.findByTestId("home-now")).textContent).toContain("Interrupted");
    expect(screen.queryByTestId("interrupted-banner")).toBeNull();
    await userEvent.click(screen.getByTestId("nav-servers"));
    expect((await screen.findByTestId("interrupted-banner")).textContent).toContain("An export was interrupted");
    // Resumed and cancelled on the History page; back on another page the banner is counted again.
    listExports.mockResolvedValue([{ job: job({ id: 5, state: "cancelled" }), totals: [], running: false }]);
    await userEvent.click(screen.getByTestId("nav-history"));
    await userEvent.click(screen.getByTestId("nav-keys"));
    await waitFor(() => expect(screen.queryByTestId("interrupted-banner")).toBeNull());
  });
});

import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { CommandError } from "../../ipc/commands";
import type { Vacuumed } from "../../ipc/bindings/Vacuumed";
import { DeltaVacuum } from "./DeltaVacuum";

const { vacuumDeltaTables } = vi.hoisted(() => ({ vacuumDeltaTables: vi.fn() }));
vi.mock("../../ipc/commands", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../ipc/commands")>();
  return { ...real, commands: { ...real.commands, vacuumDeltaTables } };
});

const week = 7 * 86_400;
const table = (name: string, files: string[], bytes: number, dryRun: boolean): Vacuumed => ({
  table: `s3://lake/tables/${name}`,
  retentionSeconds: week,
  files,
  bytes,
  dryRun,
  asOfMs: 1_790_000_000_000,
});

describe("old versions' files of Delta tables", () => {
  it("are looked for first, shown, and removed only when asked", async () => {
    vacuumDeltaTables.mockResolvedValueOnce([
      table("Observation", ["part-a.parquet", "part-b.parquet"], 2_400_000, true),
      table("Patient", [], 0, true),
    ]);
    render(<DeltaVacuum target="s3://lake/tables" />);
    expect(vacuumDeltaTables).not.toHaveBeenCalled();
    fireEvent.click(screen.getByTestId("delta-vacuum-look"));
    expect(vacuumDeltaTables).toHaveBeenCalledWith("s3://lake/tables", true, null);
    const headline = await screen.findByTestId("delta-vacuum-headline");
    expect(headline.textContent).toBe(
      "2 files (2.4 MB) in 2 tables belong only to versions replaced more than 7 days ago. Removing them leaves every table's current version as it is; those older versions can no longer be read.",
    );
    // Named under the address the panel shows already.
    expect(screen.getByTestId("delta-vacuum-list").textContent).toBe(
      "TableOld filesSizeObservation2 files2.4 MBPatient0 files0 bytes",
    );
    expect(vacuumDeltaTables).toHaveBeenCalledTimes(1);

    vacuumDeltaTables.mockResolvedValueOnce([
      table("Observation", ["part-a.parquet", "part-b.parquet"], 2_400_000, false),
      table("Patient", [], 0, false),
    ]);
    fireEvent.click(screen.getByTestId("delta-vacuum-remove"));
    // What the look listed, as of the look's moment: not what more passed the retention since.
    expect(vacuumDeltaTables).toHaveBeenLastCalledWith("s3://lake/tables", false, 1_790_000_000_000);
    expect((await screen.findByText(/^Removed 2 files/)).textContent).toBe(
      "Removed 2 files (2.4 MB) from 2 tables. Every table's current version is as it was, and so are the versions replaced in the last 7 days.",
    );
    expect(screen.queryByTestId("delta-vacuum-remove")).toBeNull();
  });

  it("says when nothing is old enough yet, and offers no removal", async () => {
    vacuumDeltaTables.mockResolvedValueOnce([{ ...table("Patient", [], 0, true), retentionSeconds: 36 * 3600 }]);
    render(<DeltaVacuum target="/data/tables" />);
    fireEvent.click(screen.getByTestId("delta-vacuum-look"));
    expect((await screen.findByTestId("delta-vacuum-headline")).textContent).toBe(
      "Nothing to remove in 1 table: the files a newer version replaced are kept for 36 hours, so that a reader still on an older version is not broken.",
    );
    expect(screen.queryByTestId("delta-vacuum-remove")).toBeNull();
  });

  it("tells a refusal in plain words and can look again", async () => {
    vacuumDeltaTables.mockRejectedValueOnce(
      new CommandError({
        code: "invalid_input",
        message: "There is no Delta table directly under /data/none: give the folder or storage address the tables were written to.",
      }),
    );
    render(<DeltaVacuum target="/data/none" />);
    fireEvent.click(screen.getByTestId("delta-vacuum-look"));
    expect((await screen.findByTestId("error-notice")).textContent).toContain("There is no Delta table directly under /data/none");
    vacuumDeltaTables.mockResolvedValueOnce([table("Patient", [], 0, true)]);
    fireEvent.click(screen.getByText("Look again"));
    expect(await screen.findByTestId("delta-vacuum-headline")).toBeTruthy();
  });
});

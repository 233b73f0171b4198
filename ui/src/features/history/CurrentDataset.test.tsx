import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { DatasetSummary } from "../../ipc/bindings/DatasetSummary";
import { formatDateTime } from "../../format";
import { CurrentDataset, notInDataset } from "./CurrentDataset";
import { job } from "./fixtures";

const { exportDataset, openDatasetFolder } = vi.hoisted(() => ({ exportDataset: vi.fn(), openDatasetFolder: vi.fn() }));
vi.mock("../../ipc/commands", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../ipc/commands")>();
  return { ...real, commands: { ...real.commands, exportDataset, openDatasetFolder } };
});

const dataset = (over: Partial<DatasetSummary>): DatasetSummary => ({
  folder: "/home/me/Documents/Haul exports/Current datasets/group-aco-north-0123456789abcdef",
  tables: [
    { resourceType: "Patient", rows: 120 },
    { resourceType: "Observation", rows: 4_880 },
  ],
  views: [],
  applied: [
    { exportId: 3, transactionTime: "2026-10-01T00:00:00Z", full: true, joined: 0, left: 0 },
    { exportId: 7, transactionTime: "2026-11-01T00:00:00Z", full: false, joined: 12, left: 3 },
  ],
  holdsThisExport: true,
  ...over,
});

beforeEach(() => {
  exportDataset.mockReset();
  openDatasetFolder.mockReset().mockResolvedValue(null);
});

describe("an export's current dataset", () => {
  it("says where it is, what it holds and as of when, and opens the folder", async () => {
    exportDataset.mockResolvedValue(dataset({}));
    render(<CurrentDataset job={job({ id: 7 })} />);
    const section = await screen.findByTestId("current-dataset");
    expect(section.textContent).toContain("5,000 resources in 2 Parquet tables, as of export 7");
    // The server's time in the user's locale, not as the manifest wrote it.
    expect(section.textContent).toContain(`(data as of ${formatDateTime("2026-11-01T00:00:00Z")})`);
    expect(section.textContent).not.toContain("2026-11-01T00:00:00Z");
    expect(screen.getByTestId("current-dataset-folder").textContent).toContain("Current datasets/group-aco-north");
    // No view kept: no line about views.
    expect(screen.queryByTestId("current-dataset-views")).toBeNull();
    // This export is in it: no word on why it would not be.
    expect(section.querySelector(".field-hint")).toBeNull();
    await userEvent.click(screen.getByTestId("open-dataset-folder"));
    expect(openDatasetFolder).toHaveBeenCalledWith(7);
  });

  it("lists the flat views kept current beside the tables", async () => {
    exportDataset.mockResolvedValue(
      dataset({
        views: [
          { name: "patient", resourceType: "Patient", rows: 120 },
          { name: "observation", resourceType: "Observation", rows: 1 },
        ],
      }),
    );
    render(<CurrentDataset job={job({ id: 7 })} />);
    const views = await screen.findByTestId("current-dataset-views");
    expect(views.textContent).toContain("kept current in its views folder: patient (120 rows), observation (1 row).");
  });

  it("shows nothing before a dataset exists, and says why an export is not in it", async () => {
    exportDataset.mockResolvedValue(null);
    const { container } = render(<CurrentDataset job={job({ id: 2 })} />);
    await waitFor(() => expect(exportDataset).toHaveBeenCalledWith(2));
    expect(container.textContent).toBe("");
    exportDataset.mockResolvedValue(dataset({ holdsThisExport: false }));
    render(<CurrentDataset job={job({ id: 9, state: "completed_with_problems" })} />);
    expect((await screen.findByTestId("current-dataset")).textContent).toContain("Only exports whose every file arrived");
    const until = job({ request: { ...job({}).request, until: "2026-09-01T00:00:00Z" } });
    expect(notInDataset(until)).toContain("window");
    expect(notInDataset(job({ settings: { parallel: 4, deleteAfter: true, auth: null, newMembersOf: 5 } }))).toContain("export 5");
  });
});

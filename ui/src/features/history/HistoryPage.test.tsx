import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeAll, describe, expect, it, vi } from "vitest";
import type { ExportSummary } from "../../ipc/commands";
import { job } from "./fixtures";
import { HistoryPage } from "./HistoryPage";

const { listExports, rerunExport } = vi.hoisted(() => ({ listExports: vi.fn(), rerunExport: vi.fn() }));
vi.mock("../../ipc/commands", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../ipc/commands")>();
  return { ...real, commands: { ...real.commands, listExports, rerunExport } };
});

// jsdom lays nothing out; the virtualized list needs a height to render rows into.
beforeAll(() => {
  Object.defineProperty(HTMLElement.prototype, "clientHeight", { configurable: true, get: () => 800 });
  Object.defineProperty(HTMLElement.prototype, "clientWidth", { configurable: true, get: () => 800 });
});

function row(id: number): ExportSummary {
  const base = job({});
  return {
    running: false,
    filesPresent: id % 2 === 0,
    serverName: id % 2 === 0 ? "Demo server" : null,
    groupName: null,
    totals: [{ resourceType: "Patient", files: 1, resources: id, bytes: 1000 }],
    deletions: 0,
    job: {
      ...base,
      id,
      outDir: `/exports/${id}`,
      transactionTime: "2026-11-01T00:00:00Z",
      request: { ...base.request, level: { kind: "group", groupId: `g-${id}` } },
    },
  };
}

describe("the History page", () => {
  it("renders only the visible rows of 10,000 exports", async () => {
    listExports.mockResolvedValue(Array.from({ length: 10_000 }, (_, i) => row(10_000 - i)));
    render(<HistoryPage />);
    // Rows name their saved server as it is called now (the demo server's address changes with each start).
    expect((await screen.findByTestId("history-row-10000")).textContent).toContain("Demo server");
    expect(screen.getByTestId("history-row-9999").textContent).toContain("ehr.test");
    const rendered = screen.getAllByRole("listitem").length;
    expect(rendered).toBeGreaterThan(5);
    expect(rendered).toBeLessThan(60);
  });

  it("shows where a storage export's files went, and offers no look inside the folder", async () => {
    const stored = row(4);
    stored.job.settings = { ...stored.job.settings, destination: "s3://payer-lake/bulk" };
    listExports.mockResolvedValue([stored]);
    render(<HistoryPage />);
    await userEvent.click(await screen.findByTestId("history-row-4"));
    expect((await screen.findByTestId("history-destination")).textContent).toBe("s3://payer-lake/bulk");
    expect(screen.getByText("Haul's own files")).toBeTruthy();
    expect(screen.queryByTestId("browse-export")).toBeNull();
    expect(screen.queryByTestId("convert-export")).toBeNull();
    // Deleting removes Haul's own files only, and says that the storage keeps the export.
    await userEvent.click(screen.getByTestId("more-actions"));
    await userEvent.click(screen.getByTestId("delete-files"));
    expect(screen.getByTestId("delete-storage-note").textContent).toContain("s3://payer-lake/bulk stay");
  });

  it("says when an export's files are gone, and offers nothing that would open them", async () => {
    // Row 3's folder is gone (odd ids in this fixture), row 4's is there.
    listExports.mockResolvedValue([row(4), row(3)]);
    const runAgain = vi.fn();
    render(<HistoryPage onRunAgain={runAgain} />);
    await userEvent.click(await screen.findByTestId("history-row-3"));
    expect((await screen.findByTestId("history-files-gone")).textContent).toContain("/exports/3");
    expect(screen.queryByTestId("browse-export")).toBeNull();
    expect(screen.queryByTestId("convert-export")).toBeNull();
    expect(screen.queryByTestId("show-log")).toBeNull();
    expect(screen.queryByTestId("delete-files")).toBeNull();
    expect(screen.queryByRole("button", { name: "Open folder" })).toBeNull();
    expect(screen.getByTestId("rerun-export")).toBeTruthy();
    // Nothing is left for the More menu (changes since, log, delete): it is not shown.
    expect(screen.queryByTestId("more-actions")).toBeNull();
    await userEvent.click(screen.getByTestId("history-row-4"));
    expect(screen.queryByTestId("history-files-gone")).toBeNull();
    expect(screen.getByTestId("convert-export")).toBeTruthy();
    // The less used actions are in the More menu, which the keyboard can work.
    expect(screen.queryByTestId("rerun-incremental")).toBeNull();
    await userEvent.click(screen.getByTestId("more-actions"));
    expect(screen.getByRole("menu")).toBeTruthy();
    expect(document.activeElement).toBe(screen.getByTestId("rerun-incremental"));
    await userEvent.keyboard("{ArrowDown}");
    expect(document.activeElement).toBe(screen.getByTestId("show-log"));
    expect(screen.getByTestId("delete-files")).toBeTruthy();
    await userEvent.keyboard("{Escape}");
    expect(screen.queryByRole("menu")).toBeNull();
    expect(document.activeElement).toBe(screen.getByTestId("more-actions"));
    // Run again shows the request on the Export page first.
    await userEvent.click(screen.getByTestId("rerun-export"));
    expect(runAgain).toHaveBeenCalledWith(expect.objectContaining({ id: 4 }));
  });

  it("marks a changes-only run in the list as the export the details follow", async () => {
    listExports.mockResolvedValue([row(4)]);
    rerunExport.mockResolvedValue(5);
    render(<HistoryPage />);
    await userEvent.click(await screen.findByTestId("history-row-4"));
    listExports.mockResolvedValue([{ ...row(5), running: true }, row(4)]);
    await userEvent.click(screen.getByTestId("more-actions"));
    await userEvent.click(screen.getByTestId("rerun-incremental"));
    expect(rerunExport).toHaveBeenCalledWith(4, true, expect.any(Function));
    const started = await screen.findByTestId("history-row-5");
    expect(started.getAttribute("aria-current")).toBe("true");
    expect(screen.getByTestId("history-row-4").getAttribute("aria-current")).toBeNull();
  });
});

import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { CommandError, type FolderOverview, type PreviewPage } from "../../ipc/commands";
import { FilesPage } from "./FilesPage";
import { formatDateTime } from "../../format";

const mocks = vi.hoisted(() => ({
  browseOpen: vi.fn(),
  browseIndex: vi.fn(),
  browsePage: vi.fn(),
  browseRows: vi.fn(),
  browseResource: vi.fn(),
  browseFind: vi.fn(),
  browseFindId: vi.fn(),
  browseLookup: vi.fn(),
  browseCharts: vi.fn(),
  browseStop: vi.fn(),
  browseSaveCsv: vi.fn(),
  saveDialog: vi.fn(),
}));
vi.mock("@tauri-apps/plugin-dialog", () => ({ save: mocks.saveDialog, open: vi.fn() }));
vi.mock("../../ipc/commands", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../ipc/commands")>();
  return { ...real, commands: { ...real.commands, ...mocks } };
});

const overview: FolderOverview = {
  folder: "/x",
  types: [
    { resourceType: "Observation", files: ["Observation.000.ndjson"], bytes: 2_000_000, compressed: false, count: 3, countSource: "manifest" },
    { resourceType: "Patient", files: ["Patient.000.ndjson"], bytes: 1000, compressed: false, count: 1, countSource: "manifest" },
  ],
  hasManifest: true,
  transactionTime: "2026-11-20T10:00:00Z",
  request: "http://s/fhir/Group/g/$export?_type=Patient,Observation",
  parameters: [["_type", "Patient,Observation"]],
  problems: [{ kind: "errorFile", file: "error/OperationOutcome.000.ndjson", lines: 1, message: "The server reported 1 problem.", samples: ["not found"] }],
};

function page(rows: PreviewPage["rows"]): PreviewPage {
  return { resourceType: "Observation", headings: ["id", "Code", "Value", "Effective", "Subject"], rows, totalRows: rows.length, complete: true };
}

// jsdom lays nothing out: give the table's scroller a height, as a window would, so rows are rendered.
beforeAll(() => {
  Object.defineProperty(HTMLElement.prototype, "clientHeight", { configurable: true, get: () => 600 });
  Object.defineProperty(HTMLElement.prototype, "clientWidth", { configurable: true, get: () => 1000 });
});

describe("the Files page", () => {
  it("shows the overview, a type's rows with bad lines marked, a resource, and follows its reference", async () => {
    mocks.browseOpen.mockResolvedValue(overview);
    mocks.browseIndex.mockResolvedValue({ resourceType: "Observation", bytesRead: 1, bytes: 1, rows: 3, complete: true });
    mocks.browsePage.mockResolvedValue(
      page([
        { row: 0, file: "Observation.000.ndjson", line: 1, id: "o1", cells: ["Body Height", "181.2 cm", "2011-02-02", "Patient/p1"], problem: null },
        { row: 1, file: "Observation.000.ndjson", line: 2, id: null, cells: [], problem: "Not valid JSON (EOF): {\"resourceType\"" },
      ]),
    );
    mocks.browseResource.mockImplementation((_f, type: string, row: number) =>
      Promise.resolve({
        resourceType: type,
        row,
        file: `${type}.000.ndjson`,
        line: row + 1,
        text:
          type === "Observation"
            ? '{"resourceType":"Observation","id":"o1","valueQuantity":{"value":181.20},"subject":{"reference":"Patient/p1"}}'
            : '{"resourceType":"Patient","id":"p1","gender":"female"}',
        problem: null,
      }),
    );
    mocks.browseLookup.mockResolvedValue({ resourceType: "Patient", row: 0 });

    render(<FilesPage initialFolder="/x" />);
    expect((await screen.findByTestId("files-overview")).textContent).toContain(formatDateTime("2026-11-20T10:00:00Z"));
    expect(screen.getByTestId("overview-total").textContent).toBe("4");
    expect(screen.getByTestId("overview-problems").textContent).toContain("not found");

    fireEvent.click(screen.getByTestId("type-Observation"));
    const rows = await screen.findAllByTestId("data-row");
    expect(rows[0]!.textContent).toContain("181.2 cm");
    expect(rows[1]!.textContent).toContain("Not valid JSON");
    expect(rows[1]!.className).toContain("data-row-problem");

    fireEvent.click(rows[0]!);
    expect((await screen.findByTestId("json-tree")).textContent).toContain("181.20");
    fireEvent.click(screen.getByTestId("json-reference"));
    await waitFor(() => expect(screen.getByTestId("resource-title").textContent).toContain("Patient / p1"));
    expect(mocks.browseLookup).toHaveBeenCalledWith("/x", "Patient/p1");
    fireEvent.click(screen.getByTestId("resource-back"));
    await waitFor(() => expect(screen.getByTestId("resource-title").textContent).toContain("Observation / o1"));
  });

  it("says plainly when a folder holds no NDJSON", async () => {
    mocks.browseOpen.mockRejectedValue(
      new CommandError({ code: "not_found", message: "There are no NDJSON files (.ndjson or .ndjson.gz) in /empty." }),
    );
    render(<FilesPage initialFolder="/empty" />);
    expect((await screen.findByTestId("error-notice")).textContent).toContain("There are no NDJSON files");
  });

  it("streams find results with a count and a Stop button", async () => {
    mocks.browseOpen.mockResolvedValue(overview);
    mocks.browseIndex.mockResolvedValue({ resourceType: "Observation", bytesRead: 1, bytes: 1, rows: 3, complete: true });
    mocks.browsePage.mockResolvedValue(page([]));
    let finish: (s: unknown) => void = () => undefined;
    mocks.browseFind.mockImplementation((_f, _t, _q, _task, onBatch) => {
      onBatch({ rows: [2], matches: 1, bytesSearched: 50, bytes: 100 });
      return new Promise((resolve) => (finish = resolve));
    });
    mocks.browseRows.mockResolvedValue([
      { row: 2, file: "Observation.000.ndjson", line: 3, id: "o3", cells: ["Body Weight", "", "", ""], problem: null },
    ]);
    render(<FilesPage initialFolder="/x" />);
    fireEvent.click(await screen.findByTestId("type-Observation"));
    fireEvent.change(screen.getByTestId("find-text"), { target: { value: "weight" } });
    fireEvent.click(screen.getByTestId("find-start"));
    await waitFor(() => expect(screen.getByTestId("table-status").textContent).toContain("1 row contains “weight” — searching, 50%"));
    fireEvent.click(screen.getByTestId("find-stop"));
    expect(mocks.browseStop).toHaveBeenCalledWith(expect.stringMatching(/^find-/));
    finish({ matches: 1, capped: false, stopped: true });
    await waitFor(() => expect(screen.getByTestId("table-status").textContent).toContain("(stopped)"));
    const found = (await screen.findAllByTestId("data-row"))[0]!;
    expect(found.textContent).toContain("Body Weight");
    // The match is marked in the row.
    expect(found.querySelector("mark")?.textContent).toBe("Weight");
    // A right click offers to copy the cell or the row; the row goes tab-separated.
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    fireEvent.contextMenu(found.querySelectorAll("[role=cell]")[2]!);
    fireEvent.click(await screen.findByTestId("copy-row"));
    await waitFor(() => expect(writeText).toHaveBeenCalledWith("3\to3\tBody Weight\t\t\t"));
    expect(screen.getByTestId("table-status").textContent).toContain("Row copied.");
    fireEvent.contextMenu(found.querySelectorAll("[role=cell]")[2]!);
    fireEvent.click(await screen.findByTestId("copy-cell"));
    await waitFor(() => expect(writeText).toHaveBeenLastCalledWith("Body Weight"));
    // The rows found go to a CSV file the user names.
    mocks.saveDialog.mockResolvedValue("/home/me/found.csv");
    mocks.browseSaveCsv.mockResolvedValue(1);
    fireEvent.click(screen.getByTestId("save-csv"));
    await waitFor(() => expect(mocks.browseSaveCsv).toHaveBeenCalledWith("/x", "Observation", [2], "/home/me/found.csv"));
    await waitFor(() => expect(screen.getByTestId("table-status").textContent).toContain("1 row saved to /home/me/found.csv."));
  });
});

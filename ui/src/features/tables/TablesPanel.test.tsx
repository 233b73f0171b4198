import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { CommandError } from "../../ipc/commands";
import { outcome, viewInfo } from "./fixtures";
import { TablesPanel } from "./TablesPanel";

const { listViews, readView, previewView, makeTables, cancelTables, openTablesFolder, openDialog } = vi.hoisted(() => ({
  listViews: vi.fn(),
  readView: vi.fn(),
  previewView: vi.fn(),
  makeTables: vi.fn(),
  cancelTables: vi.fn(),
  openTablesFolder: vi.fn(),
  openDialog: vi.fn(),
}));
vi.mock("../../ipc/commands", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../ipc/commands")>();
  return {
    ...real,
    commands: { ...real.commands, listViews, readView, previewView, makeTables, cancelTables, openTablesFolder },
  };
});
vi.mock("@tauri-apps/plugin-dialog", () => ({ open: openDialog }));

const builtIns = [viewInfo(), viewInfo({ name: "condition", title: "Conditions", resource: "Condition" })];

describe("the Make tables panel", () => {
  it("previews a view, makes the chosen views in the chosen formats and shows what came out", async () => {
    listViews.mockResolvedValue(builtIns);
    previewView.mockResolvedValue({ columns: ["id", "gender"], rows: [["p1", "female"]], more: true, failure: null });
    let finish: (s: unknown) => void = () => undefined;
    makeTables.mockImplementation((_id, _views, _formats, _bom, onProgress) => {
      onProgress({ view: "condition", viewNumber: 1, views: 1, bytesRead: 5, bytesTotal: 10, rows: 7 });
      return new Promise((resolve) => (finish = resolve));
    });
    render(<TablesPanel exportId={4} onClose={() => undefined} />);
    fireEvent.click(await screen.findByTestId("preview-patient"));
    expect(await screen.findByText("female")).toBeTruthy();
    expect(previewView).toHaveBeenCalledWith(4, { kind: "builtIn", name: "patient" });
    expect(screen.getByText("The first 1 row; there are more.")).toBeTruthy();

    const start = screen.getByTestId("tables-start") as HTMLButtonElement;
    expect(start.disabled).toBe(true);
    fireEvent.click(screen.getByTestId("view-condition"));
    fireEvent.click(screen.getByTestId("format-parquet"));
    fireEvent.click(start);
    expect(makeTables).toHaveBeenCalledWith(4, [{ kind: "builtIn", name: "condition" }], ["xlsx", "csv", "parquet"], true, expect.any(Function));
    expect(await screen.findByText("condition (1 of 1): 7 rows so far (50%)")).toBeTruthy();

    finish({
      outDir: "/exports/x/tables",
      views: [
        outcome({ view: "condition", resource: "Condition", rows: 639, files: ["/exports/x/tables/condition.xlsx", "/exports/x/tables/condition.csv"], notes: ["2 values of column 'onset' did not fit"] }),
      ],
    });
    expect(await screen.findByTestId("tables-report")).toBeTruthy();
    expect(screen.getByTestId("tables-headline").textContent).toBe("1 of 1 view written, 639 rows in all.");
    expect(screen.getByText("condition.xlsx, condition.csv")).toBeTruthy();
    expect(screen.getByText("condition: 2 values of column 'onset' did not fit")).toBeTruthy();
    openTablesFolder.mockResolvedValue(undefined);
    fireEvent.click(screen.getByTestId("tables-open-folder"));
    expect(openTablesFolder).toHaveBeenCalledWith(4);
  });

  it("adds the user's own view file, and names a bad one with its reason", async () => {
    listViews.mockResolvedValue(builtIns);
    openDialog.mockResolvedValueOnce(["/home/a/mine.json"]).mockResolvedValueOnce(["/home/a/bad.json"]);
    readView.mockResolvedValueOnce(viewInfo({ name: "mine", title: "Mine", file: "/home/a/mine.json" }));
    readView.mockRejectedValueOnce(
      new CommandError({ code: "invalid_input", message: "the view in /home/a/bad.json cannot be used: 'Patinet' is not a FHIR resource type" }),
    );
    render(<TablesPanel exportId={4} onClose={() => undefined} />);
    fireEvent.click(await screen.findByTestId("tables-add-file"));
    const mine = (await screen.findByTestId("view-mine")) as HTMLInputElement;
    expect(mine.checked).toBe(true);
    expect(screen.getByText("(Patient, mine.json)")).toBeTruthy();
    fireEvent.click(screen.getByTestId("tables-add-file"));
    expect(await screen.findByText(/'Patinet' is not a FHIR resource type/)).toBeTruthy();
  });

  it("names a view that stopped, and can be stopped", async () => {
    listViews.mockResolvedValue(builtIns);
    makeTables.mockResolvedValueOnce({
      outDir: "/t",
      views: [
        outcome({ view: "patient", failure: { message: "the column 'g' gives 2 values", file: "/e/Patient.000.ndjson", line: 3, resourceId: "p2" } }),
      ],
    });
    const first = render(<TablesPanel exportId={9} onClose={() => undefined} />);
    fireEvent.click(await screen.findByTestId("view-patient"));
    fireEvent.click(screen.getByTestId("tables-start"));
    const failure = await screen.findByTestId("tables-failure-patient");
    expect(failure.textContent).toBe("patient stopped: the column 'g' gives 2 values (resource p2, Patient.000.ndjson line 3)");
    expect(screen.getByTestId("tables-headline").textContent).toContain("no earlier file of it was replaced");

    let fail: (e: unknown) => void = () => undefined;
    makeTables.mockImplementation(() => new Promise((_r, reject) => (fail = reject)));
    cancelTables.mockResolvedValue(true);
    first.unmount();
    render(<TablesPanel exportId={9} onClose={() => undefined} />);
    fireEvent.click(await screen.findByTestId("view-patient"));
    fireEvent.click(screen.getByTestId("tables-start"));
    fireEvent.click(await screen.findByText("Stop"));
    expect(cancelTables).toHaveBeenCalledWith(9);
    fail(new CommandError({ code: "interrupted", message: "Stopped. Views not finished left no files." }));
    await waitFor(() => expect(screen.getByText("Stopped. Views not finished left no files.")).toBeTruthy());
  });
});

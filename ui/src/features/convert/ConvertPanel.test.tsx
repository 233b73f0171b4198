import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { CommandError } from "../../ipc/commands";
import { ConvertPanel } from "./ConvertPanel";
import { report, typeReport } from "./fixtures";

const { convertExport, convertExportToDelta, cancelConversion } = vi.hoisted(() => ({
  convertExport: vi.fn(),
  convertExportToDelta: vi.fn(),
  cancelConversion: vi.fn(),
}));
vi.mock("../../ipc/commands", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../ipc/commands")>();
  return { ...real, commands: { ...real.commands, convertExport, convertExportToDelta, cancelConversion } };
});

describe("the Convert panel", () => {
  it("shows progress, then the report with JSON-text columns and bad lines", async () => {
    let finish: (r: unknown) => void = () => undefined;
    convertExport.mockImplementation((_id, _out, onProgress) => {
      onProgress({ resourceType: "Observation", phase: "writing", doneBytes: 50, totalBytes: 100 });
      return new Promise((resolve) => (finish = resolve));
    });
    render(<ConvertPanel exportId={7} onClose={() => undefined} />);
    fireEvent.click(screen.getByTestId("convert-start"));
    expect(convertExport).toHaveBeenCalledWith(7, null, expect.any(Function));
    expect(await screen.findByText("Observation: writing Parquet (50%)")).toBeTruthy();

    finish(
      report({
        types: [typeReport({ jsonColumns: [{ path: "valueX", kinds: ["string", "object"] }], badLines: 1 })],
        badLines: 1,
        badLinesFile: "/x/parquet/bad-lines.ndjson",
        badLineExamples: [{ file: "/x/Patient.000.ndjson", line: 3, problem: "not valid JSON", excerpt: "{" }],
      }),
    );
    expect(await screen.findByTestId("convert-report")).toBeTruthy();
    expect(screen.getByText("valueX (string, object)")).toBeTruthy();
    expect(screen.getByTestId("convert-bad-lines").textContent).toContain("Patient.000.ndjson:3 not valid JSON");
  });

  it("can be stopped, and says so in plain words", async () => {
    let fail: (e: unknown) => void = () => undefined;
    convertExport.mockImplementation(() => new Promise((_r, reject) => (fail = reject)));
    cancelConversion.mockResolvedValue(true);
    render(<ConvertPanel exportId={3} onClose={() => undefined} />);
    fireEvent.click(screen.getByTestId("convert-start"));
    fireEvent.click(await screen.findByText("Stop"));
    expect(cancelConversion).toHaveBeenCalledWith(3);
    fail(new CommandError({ code: "interrupted", message: "The conversion was stopped. The table it was writing was not replaced." }));
    expect(await screen.findByText("The conversion was stopped. The table it was writing was not replaced.")).toBeTruthy();
  });

  it("writes Delta tables to the address given, remembers it, and shows each table's version", async () => {
    localStorage.removeItem("haul.deltaTarget");
    convertExportToDelta.mockResolvedValue({
      target: "s3://lake/tables",
      transactionTime: "2026-11-01T00:00:00Z",
      incremental: true,
      tables: [
        {
          resourceType: "Condition",
          address: "s3://lake/tables/Condition",
          version: 3,
          rows: 1200,
          change: { resourceType: "Condition", before: 1210, after: 1200, added: 5, changed: 7, deleted: 12, leftWithPatient: 3, duplicates: 0, widened: false, rewritten: false },
        },
        { resourceType: "Patient", address: "s3://lake/tables/Patient", version: null, rows: 80, change: null },
      ],
      left: 1,
      badLines: 0,
      badLinesFile: null,
      warnings: [],
      seconds: 4,
    });
    render(<ConvertPanel exportId={9} onClose={() => undefined} />);
    fireEvent.click(screen.getByTestId("convert-output-delta"));
    fireEvent.click(screen.getByTestId("convert-start"));
    expect(convertExportToDelta).not.toHaveBeenCalled();
    expect(screen.getByText("Write a folder or a storage address for the tables.")).toBeTruthy();
    expect(document.activeElement?.id).toBe("delta-target");

    expect(screen.queryByTestId("delta-vacuum")).toBeNull();
    fireEvent.change(screen.getByTestId("delta-target"), { target: { value: " s3://lake/tables " } });
    expect(screen.getByTestId("delta-vacuum")).toBeTruthy();
    fireEvent.click(screen.getByTestId("convert-start"));
    expect(convertExportToDelta).toHaveBeenCalledWith(9, "s3://lake/tables", expect.any(Function));
    const table = await screen.findByTestId("delta-report");
    expect(table.textContent).toContain("Condition31,20057" + "15");
    expect(table.textContent).toContain("unchanged");
    expect(screen.getByTestId("delta-headline").textContent).toBe(
      "The changes since the last export were merged into 1 Delta table in 4.0 s. 1 table already held this export and was left as it was.",
    );
    expect(screen.getByTestId("delta-left").textContent).toContain("1 patient left the group");
    expect(localStorage.getItem("haul.deltaTarget")).toBe("s3://lake/tables");
  });
});

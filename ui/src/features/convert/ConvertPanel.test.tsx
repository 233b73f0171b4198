import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { CommandError } from "../../ipc/commands";
import { ConvertPanel } from "./ConvertPanel";
import { report, typeReport } from "./fixtures";

const { convertExport, cancelConversion } = vi.hoisted(() => ({ convertExport: vi.fn(), cancelConversion: vi.fn() }));
vi.mock("../../ipc/commands", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../ipc/commands")>();
  return { ...real, commands: { ...real.commands, convertExport, cancelConversion } };
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
});

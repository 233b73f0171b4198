import { render, screen } from "@testing-library/react";
import { beforeAll, describe, expect, it, vi } from "vitest";
import type { ExportSummary } from "../../ipc/commands";
import { job } from "./fixtures";
import { HistoryPage } from "./HistoryPage";

const { listExports } = vi.hoisted(() => ({ listExports: vi.fn() }));
vi.mock("../../ipc/commands", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../ipc/commands")>();
  return { ...real, commands: { ...real.commands, listExports } };
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
    totals: [{ resourceType: "Patient", files: 1, resources: id, bytes: 1000 }],
    deletions: 0,
    job: { ...base, id, outDir: `/exports/${id}`, request: { ...base.request, level: { kind: "group", groupId: `g-${id}` } } },
  };
}

describe("the History page", () => {
  it("renders only the visible rows of 10,000 exports", async () => {
    listExports.mockResolvedValue(Array.from({ length: 10_000 }, (_, i) => row(10_000 - i)));
    render(<HistoryPage />);
    expect(await screen.findByTestId("history-row-10000")).toBeTruthy();
    const rendered = screen.getAllByRole("listitem").length;
    expect(rendered).toBeGreaterThan(5);
    expect(rendered).toBeLessThan(60);
  });
});

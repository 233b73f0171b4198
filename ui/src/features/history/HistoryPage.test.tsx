import { render, screen } from "@testing-library/react";
import { beforeAll, describe, expect, it, vi } from "vitest";
import type { ExportSummary } from "../../ipc/commands";
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
  return {
    running: false,
    totals: [{ resourceType: "Patient", files: 1, resources: id, bytes: 1000 }],
    job: {
      id,
      serverId: 1,
      fhirUrl: "https://ehr.test/fhir",
      request: {
        level: { kind: "group", groupId: `g-${id}` },
        outputFormat: null,
        since: null,
        types: [],
        elements: [],
        patients: [],
        typeFilters: [],
        includeAssociatedData: [],
        lenient: false,
        post: false,
        extra: [],
      },
      settings: { parallel: 4, deleteAfter: true, auth: null },
      outDir: `/exports/${id}`,
      state: "completed",
      statusUrl: null,
      progress: null,
      transactionTime: "2026-11-01T00:00:00Z",
      expires: null,
      problems: [],
      failure: null,
      createdAt: "2026-11-01T10:00:00Z",
      kickedOffAt: null,
      completedAt: "2026-11-01T10:01:00Z",
      updatedAt: "2026-11-01T10:01:00Z",
    },
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

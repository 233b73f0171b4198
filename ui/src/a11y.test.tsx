// An automated accessibility check (axe-core) of every page as it renders with typical data: no serious or
// critical violation. jsdom has no layout, so colour contrast is not judged here (axe reports it as
// "incomplete"); the e2e screenshots of both themes are looked at for that.
import { render, screen } from "@testing-library/react";
import axe from "axe-core";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { HomePage } from "./features/home/HomePage";
import { HistoryPage } from "./features/history/HistoryPage";
import { ExportPage } from "./features/exports/ExportPage";
import { ServersPage } from "./features/servers/ServersPage";
import { KeysPage } from "./features/keys/KeysPage";
import { GroupsPage } from "./features/groups/GroupsPage";
import { FilesPage } from "./features/files/FilesPage";
import { Shell } from "./features/shell/Shell";
import type { ExportSummary, Server } from "./ipc/commands";

vi.mock("./ipc/commands", async (importOriginal) => {
  const real = await importOriginal<typeof import("./ipc/commands")>();
  const { job } = await import("./features/history/fixtures");
  const demo = {
    id: 1,
    name: "Demo server",
    baseUrl: "http://127.0.0.1:9/fhir",
    auth: "open",
    clientId: null,
    scope: null,
    builtin: true,
    keyKid: null,
    tokenUrl: null,
    trustedOrigins: [],
    secretStyle: null,
    tokenParams: [],
    secretSaved: false,
    createdAt: "2026-11-23T00:00:00Z",
    updatedAt: "2026-11-23T00:00:00Z",
  } as unknown as Server;

  const summary = (id: number, over: Partial<ExportSummary["job"]> = {}, running = false): ExportSummary => ({
    job: job({ id, transactionTime: "2026-11-01T00:00:00Z", completedAt: "2026-11-01T10:00:03Z", ...over }),
    totals: [{ resourceType: "Patient", files: 1, resources: 71, bytes: 55_700 }],
    deletions: 0,
    running,
    filesPresent: true,
    serverName: "Demo server",
    groupName: "ACO North Regional",
  });

  const rows = [summary(3, { state: "downloading" }, true), summary(2, { state: "kicked_off" }), summary(1)];
  const quiet = Object.fromEntries(Object.keys(real.commands).map((k) => [k, vi.fn().mockResolvedValue([])]));
  return {
    ...real,
    commands: {
      ...quiet,
      listServers: vi.fn().mockResolvedValue([demo]),
      listExports: vi.fn().mockResolvedValue(rows),
      watchExport: vi.fn().mockResolvedValue(false),
      // This export started no current dataset.
      exportDataset: vi.fn().mockResolvedValue(null),
      listSchedules: vi.fn().mockResolvedValue([
        { id: 1, exportId: 1, cadence: "monthly", at: "06:00", createdAt: "2026-11-01T00:00:00Z", lastRunAt: null, lastJobId: null, lastOutcome: null, lastMessage: null },
      ]),
      previewExport: vi.fn().mockResolvedValue({
        requestText: "GET http://127.0.0.1:9/fhir/Group/aco-north/$export",
        sinceLast: { baseline: null, passedOver: [] },
        sinceLastText: "",
        defaultFolder: "/home/me/Haul exports/demo",
      }),
    },
  };
});

beforeAll(() => {
  // jsdom lacks these; the pages only use them to scroll.
  Element.prototype.scrollIntoView = () => undefined;
});

async function violations(container: HTMLElement) {
  const result = await axe.run(container, { resultTypes: ["violations"] });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

describe("accessibility (axe-core)", () => {
  const pages: [string, () => React.ReactElement, string][] = [
    ["the shell and home screen", () => <Shell />, "Recent exports"],
    ["the home screen", () => <HomePage onExport={() => {}} onShowExport={() => {}} onAddServer={() => {}} />, "Export again"],
    ["History with an export open", () => <HistoryPage initialSelected={1} />, "Data as of"],
    ["the Export form", () => <ExportPage />, "Start export"],
    ["Servers", () => <ServersPage />, "Demo server"],
    ["Keys", () => <KeysPage />, "Keys"],
    ["Groups", () => <GroupsPage onExport={() => {}} />, "Groups"],
    ["Files", () => <FilesPage />, "Files"],
  ];
  for (const [name, page, text] of pages) {
    it(`${name}: no serious or critical violations`, async () => {
      const { container } = render(page());
      await screen.findAllByText(new RegExp(text));
      expect(await violations(container)).toEqual([]);
    });
  }
});

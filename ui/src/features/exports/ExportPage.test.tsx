import { act, render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { JobEvent, Server } from "../../ipc/commands";
import { ExportPage } from "./ExportPage";

// The page alone: commands are replaced; the real IPC and engine are covered end to end.
const { listServers, previewExport, startExport, cancelExport } = vi.hoisted(() => ({
  listServers: vi.fn(),
  previewExport: vi.fn(),
  startExport: vi.fn(),
  cancelExport: vi.fn(),
}));
vi.mock("../../ipc/commands", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../ipc/commands")>();
  return { ...real, commands: { ...real.commands, listServers, previewExport, startExport, cancelExport } };
});

const demo: Server = {
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
};

beforeEach(() => {
  listServers.mockReset().mockResolvedValue([demo]);
  previewExport.mockReset().mockResolvedValue({
    requestText: "GET http://127.0.0.1:9/fhir/Group/aco-north/$export",
    sinceLast: null,
    defaultFolder: "/home/me/Documents/Haul exports/demo",
  });
  startExport.mockReset();
  cancelExport.mockReset().mockResolvedValue(true);
});

describe("the Export page", () => {
  it("does not start a group export without a group id, and says why", async () => {
    render(<ExportPage />);
    await screen.findByRole("option", { name: "Demo server" });
    await userEvent.click(screen.getByRole("button", { name: "Start export" }));
    expect(await screen.findByText(/Enter the Group's id/)).toBeTruthy();
    expect(startExport).not.toHaveBeenCalled();
  });

  it("starts the export it shows, then follows it to the end", async () => {
    let send: (e: JobEvent) => void = () => {};
    startExport.mockImplementation(async (_input: unknown, onEvent: (e: JobEvent) => void) => {
      send = onEvent;
      return 12;
    });
    render(<ExportPage />);
    await screen.findByRole("option", { name: "Demo server" });
    await userEvent.type(screen.getByLabelText("Group id"), "aco-north");
    await userEvent.click(screen.getByRole("button", { name: "Financial" }));
    expect(await screen.findByText(/Group\/aco-north\/\$export/)).toBeTruthy();
    await userEvent.click(screen.getByRole("button", { name: "Start export" }));
    await waitFor(() => expect(startExport).toHaveBeenCalledTimes(1));
    const input = startExport.mock.calls[0]?.[0];
    expect(input.serverId).toBe(1);
    expect(input.request.level).toEqual({ kind: "group", groupId: "aco-north" });
    expect(input.request.types).toEqual(["Patient", "Coverage", "Claim", "ExplanationOfBenefit"]);

    await screen.findByText(/Export 12/);
    act(() => {
      send({ event: "state", state: "kicked_off" });
      send({ event: "progress", text: "Queued" });
    });
    expect(screen.getByTestId("job-status").textContent).toContain("Queued");
    act(() => {
      send({ event: "file_started", seq: 0, name: "Patient.000.ndjson", resourceType: "Patient", resumeFrom: 0 });
      send({ event: "file_verified", seq: 0, name: "Patient.000.ndjson", resources: 66, bytes: 51_800, badLines: 0 });
      send({ event: "finished", state: "completed", message: "Export complete: 66 resources in 1 files (51.8 KB), all verified." });
    });
    expect(screen.getByTestId("job-finished").textContent).toContain("all verified");
    expect(screen.getByTestId("job-totals").textContent).toContain("66");
  });

  it("sends “changed up to” as until, to the preview and to the start", async () => {
    startExport.mockResolvedValue(8);
    render(<ExportPage />);
    await screen.findByRole("option", { name: "Demo server" });
    await userEvent.click(screen.getByLabelText(/Everything/));
    const until = screen.getByLabelText("Changed up to (optional)");
    await userEvent.type(until, "2026-02-01T08:30");
    await userEvent.click(screen.getByRole("button", { name: "Start export" }));
    await waitFor(() => expect(startExport).toHaveBeenCalledTimes(1));
    const request = startExport.mock.calls[0]?.[0].request;
    expect(request.until).toMatch(/^2026-02-0\dT\d{2}:30:00Z$/);
    await waitFor(() => expect(previewExport).toHaveBeenCalledWith(1, expect.objectContaining({ until: request.until })));
  });

  it("says what is wrong with a “changed up to” before “since”", async () => {
    render(<ExportPage />);
    await screen.findByRole("option", { name: "Demo server" });
    await userEvent.click(screen.getByLabelText(/Everything/));
    await userEvent.type(screen.getByLabelText("Only resources changed since"), "2026-03-01T00:00");
    await userEvent.type(screen.getByLabelText("Changed up to (optional)"), "2026-02-01T00:00");
    await userEvent.click(screen.getByRole("button", { name: "Start export" }));
    expect(await screen.findByText(/after “changed since”/)).toBeTruthy();
    expect(startExport).not.toHaveBeenCalled();
  });

  it("asks before cancelling", async () => {
    startExport.mockResolvedValue(5);
    render(<ExportPage />);
    await screen.findByRole("option", { name: "Demo server" });
    await userEvent.click(screen.getByLabelText(/Everything/));
    await userEvent.click(screen.getByRole("button", { name: "Start export" }));
    await userEvent.click(await screen.findByRole("button", { name: "Cancel…" }));
    expect(cancelExport).not.toHaveBeenCalled();
    await userEvent.click(screen.getByRole("button", { name: "Cancel the export" }));
    expect(cancelExport).toHaveBeenCalledWith(5);
  });
});

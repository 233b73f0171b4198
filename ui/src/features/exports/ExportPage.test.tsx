import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { JobEvent, Server } from "../../ipc/commands";
import { azure, bcdaSandbox, standard } from "../servers/profileFixtures";
import { job as historyJob } from "../history/fixtures";
import { ExportPage } from "./ExportPage";
import { STATE_LABEL } from "./progress";

// The page alone: commands are replaced; the real IPC and engine are covered end to end.
const { listServers, listServerProfiles, previewExport, startExport, cancelExport, listExports, watchExport } = vi.hoisted(() => ({
  listServers: vi.fn(),
  listServerProfiles: vi.fn(),
  previewExport: vi.fn(),
  startExport: vi.fn(),
  cancelExport: vi.fn(),
  listExports: vi.fn(),
  watchExport: vi.fn(),
}));
vi.mock("../../ipc/commands", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../ipc/commands")>();
  return { ...real, commands: { ...real.commands, listServers, listServerProfiles, previewExport, startExport, cancelExport, listExports, watchExport },
  };
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
  listServerProfiles.mockReset().mockResolvedValue([]);
  previewExport.mockReset().mockResolvedValue({
    requestText: "GET http://127.0.0.1:9/fhir/Group/aco-north/$export",
    sinceLast: { baseline: null, passedOver: [] },
    sinceLastText: "no earlier complete export of this request: this one will be complete",
    defaultFolder: "/home/me/Documents/Haul exports/demo",
  });
  startExport.mockReset();
  cancelExport.mockReset().mockResolvedValue(true);
  listExports.mockReset().mockResolvedValue([]);
  watchExport.mockReset().mockResolvedValue(false);
});

/** The app runs export `id` (started before the page opened): the page finds it; events go through `send`. */
function runningElsewhere(id: number, state: "kicked_off" | "downloading"): { send: (e: JobEvent) => void } {
  const channel = { send: (_e: JobEvent) => undefined as void };
  listExports.mockResolvedValue([{ job: historyJob({ id, state }), running: true }]);
  watchExport.mockImplementation(async (_id: number, onEvent: (e: JobEvent) => void) => {
    channel.send = onEvent;
    return true;
  });
  return { send: (e) => channel.send(e) };
}

describe("the Export page", () => {
  it("shows the export that is running when the page is opened again, not an empty form", async () => {
    const { send } = runningElsewhere(21, "downloading");
    render(<ExportPage />);
    expect(await screen.findByText(/Export 21/)).toBeTruthy();
    expect(watchExport).toHaveBeenCalledWith(21, expect.any(Function));
    expect(screen.getByTestId("job-state").textContent).toBe(STATE_LABEL.downloading);
    expect(screen.getByTestId("keeps-running-hint")).toBeTruthy();
    // Finished in the database before the engine's last word: the hint goes with the state.
    act(() => send({ event: "state", state: "completed" }));
    expect(screen.queryByTestId("keeps-running-hint")).toBeNull();
  });

  it("counts a wait down and shows the time of a short export once it ends", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      const { send } = runningElsewhere(22, "kicked_off");
      render(<ExportPage />);
      await screen.findByText(/Export 22/);
      act(() => send({ event: "waiting", reason: "The server is busy (HTTP 429).", seconds: 3.7 }));
      expect(screen.getByTestId("job-status").textContent).toMatch(/next try in 3\.[67] s/);
      act(() => vi.advanceTimersByTime(2000));
      expect(screen.getByTestId("job-status").textContent).toMatch(/next try in 1\.[67] s/);
    } finally {
      vi.useRealTimers();
    }
  });

  it("shows the time a short export took, not 0.0 s", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      const { send } = runningElsewhere(23, "kicked_off");
      render(<ExportPage />);
      await screen.findByText(/Export 23/);
      act(() => vi.advanceTimersByTime(400));
      act(() => send({ event: "finished", state: "completed", message: "Export complete" }));
      expect(screen.getByLabelText("Elapsed time").textContent).toMatch(/^0\.[4-9] s$/);
    } finally {
      vi.useRealTimers();
    }
  });

  it("does not start a group export without a group id, and says why", async () => {
    render(<ExportPage />);
    await screen.findByRole("option", { name: "Demo server" });
    await userEvent.click(screen.getByRole("button", { name: "Start export" }));
    expect(await screen.findByText(/Enter the Group's id/)).toBeTruthy();
    expect(startExport).not.toHaveBeenCalled();
    // The field that needs the user has the focus.
    await waitFor(() => expect(document.activeElement).toBe(screen.getByLabelText("Group id")));
  });

  it("opens filled in with an earlier export's request, and starts nothing on its own", async () => {
    render(<ExportPage initial={{ serverId: 1, level: "group", groupId: "aco-south", groupName: "ACO South", types: ["Patient"] }} />);
    await waitFor(() =>
      expect(previewExport).toHaveBeenCalledWith(1, expect.objectContaining({ level: { kind: "group", groupId: "aco-south" }, types: ["Patient"] })),
    );
    expect((screen.getByLabelText("Group id") as HTMLInputElement).value).toBe("aco-south");
    expect(startExport).not.toHaveBeenCalled();
    // Started, it carries the group's name; typing another id drops it.
    startExport.mockResolvedValue(5);
    await userEvent.click(screen.getByRole("button", { name: "Start export" }));
    await waitFor(() => expect(startExport.mock.calls[0]?.[0]).toEqual(expect.objectContaining({ groupName: "ACO South" })));
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
    // What comes next is one click away, with the folder named.
    expect(within(screen.getByTestId("next-steps")).getByRole("button", { name: "Open folder" })).toBeTruthy();
    expect(screen.getByTestId("next-tables")).toBeTruthy();
    expect(screen.getByTestId("next-repeat")).toBeTruthy();
  });

  it("offers new members' full records on a group export since the last one, on unless unticked", async () => {
    startExport.mockResolvedValue(7);
    render(<ExportPage />);
    await screen.findByRole("option", { name: "Demo server" });
    await userEvent.type(screen.getByLabelText("Group id"), "aco-north");
    expect(screen.queryByTestId("new-member-records")).toBeNull();
    await userEvent.click(screen.getByLabelText(/Since the last export of this same request/));
    const fetchNew = screen.getByTestId("new-member-records") as HTMLInputElement;
    expect(fetchNew.checked).toBe(true);
    await userEvent.click(fetchNew);
    await userEvent.click(screen.getByRole("button", { name: "Start export" }));
    await waitFor(() => expect(startExport).toHaveBeenCalledTimes(1));
    expect(startExport.mock.calls[0]?.[0]).toEqual(expect.objectContaining({ sinceLast: true, newMemberRecords: false }));
  });

  it("sends “changed up to” as until, to the preview and to the start", async () => {
    startExport.mockResolvedValue(8);
    render(<ExportPage />);
    await screen.findByRole("option", { name: "Demo server" });
    await userEvent.click(screen.getByLabelText(/Everything/));
    // A date alone means its midnight; the time of day is its own field.
    fireEvent.change(screen.getByLabelText("Changed up to (optional)"), { target: { value: "2026-02-01" } });
    expect((screen.getByLabelText("Changed up to: time of day") as HTMLInputElement).value).toBe("00:00");
    fireEvent.change(screen.getByLabelText("Changed up to: time of day"), { target: { value: "08:30" } });
    await userEvent.click(screen.getByRole("button", { name: "Start export" }));
    await waitFor(() => expect(startExport).toHaveBeenCalledTimes(1));
    const request = startExport.mock.calls[0]?.[0].request;
    expect(request.until).toMatch(/^2026-02-0\dT\d{2}:30:00Z$/);
    await waitFor(() => expect(previewExport).toHaveBeenCalledWith(1, expect.objectContaining({ until: request.until })));
  });

  it("offers a storage container for an Azure server only, and sends it", async () => {
    const azureServer: Server = { ...demo, id: 2, name: "Azure FHIR", builtin: false, profileId: azure.id };
    listServers.mockResolvedValue([demo, azureServer]);
    listServerProfiles.mockResolvedValue([azure, standard]);
    startExport.mockResolvedValue(9);
    render(<ExportPage />);
    await screen.findByRole("option", { name: "Azure FHIR" });
    expect(screen.queryByTestId("export-container")).toBeNull();
    await userEvent.selectOptions(screen.getByLabelText("Server"), "Azure FHIR");
    await userEvent.type(await screen.findByTestId("export-container"), "monthly-roster");
    await userEvent.click(screen.getByLabelText(/Everything/));
    await userEvent.click(screen.getByRole("button", { name: "Start export" }));
    await waitFor(() => expect(startExport).toHaveBeenCalledTimes(1));
    expect(startExport.mock.calls[0]?.[0].request.container).toBe("monthly-roster");
    // Back to a server that has no containers: the field goes, and so does the value.
    await userEvent.click(screen.getByTestId("new-export"));
    await userEvent.selectOptions(screen.getByLabelText("Server"), "Demo server");
    expect(screen.queryByTestId("export-container")).toBeNull();
    await waitFor(() => expect(previewExport).toHaveBeenLastCalledWith(1, expect.not.objectContaining({ container: "monthly-roster" })));
  });

  it("says which export “since the last export” continues from, and which it passed over", async () => {
    previewExport.mockResolvedValue({
      requestText: "GET http://127.0.0.1:9/fhir/Group/aco-north/$export?_since=2026-10-01T14%3A03%3A00Z",
      sinceLast: {
        baseline: { exportId: 4, since: "2026-10-01T14:03:00Z", exportedAt: "2026-10-01T14:00:00Z" },
        passedOver: ["The export of 1 Nov 2026 (number 7) is not used as the starting point: not all of it arrived."],
      },
      sinceLastText: "changes since 1 Oct 2026 14:03 UTC, the export of 1 Oct 2026 (number 4)",
      defaultFolder: "/home/me/Documents/Haul exports/demo",
    });
    render(<ExportPage initial={{ serverId: 1, groupId: "aco-north" }} />);
    await screen.findByRole("option", { name: "Demo server" });
    await userEvent.click(screen.getByLabelText(/Since the last export/));
    expect((await screen.findByTestId("since-last")).textContent).toContain("the export of 1 Oct 2026 (number 4)");
    expect(screen.getByTestId("since-last-passed-over").textContent).toContain("number 7");
  });

  it("offers only the levels the server's kind offers", async () => {
    const bcda: Server = { ...demo, id: 3, name: "BCDA", builtin: false, profileId: bcdaSandbox.id };
    const ab2d: Server = { ...demo, id: 4, name: "AB2D", builtin: false, profileId: "ab2d" };
    listServers.mockResolvedValue([bcda, ab2d]);
    listServerProfiles.mockResolvedValue([bcdaSandbox, { ...bcdaSandbox, id: "ab2d", name: "CMS AB2D", levels: ["patient"] }]);
    render(<ExportPage />);
    await screen.findByRole("option", { name: "AB2D" });
    await waitFor(() => expect((screen.getByTestId("level-system") as HTMLInputElement).disabled).toBe(true));
    expect((screen.getByTestId("level-group") as HTMLInputElement).checked).toBe(true);
    await userEvent.selectOptions(screen.getByLabelText("Server"), "AB2D");
    await waitFor(() => expect((screen.getByTestId("level-patient") as HTMLInputElement).checked).toBe(true));
    expect((screen.getByTestId("level-group") as HTMLInputElement).disabled).toBe(true);
    expect(screen.getAllByText(/CMS AB2D does not offer it/)).toHaveLength(2);
  });

  it("says what is wrong with a “changed up to” before “since”", async () => {
    render(<ExportPage />);
    await screen.findByRole("option", { name: "Demo server" });
    await userEvent.click(screen.getByLabelText(/Everything/));
    fireEvent.change(screen.getByLabelText("Only resources changed since"), { target: { value: "2026-03-01" } });
    fireEvent.change(screen.getByLabelText("Changed up to (optional)"), { target: { value: "2026-02-01" } });
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

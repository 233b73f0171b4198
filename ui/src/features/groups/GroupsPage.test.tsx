import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { GroupSummary, Server } from "../../ipc/commands";
import { bcdaSandbox, standard } from "../servers/profileFixtures";
import { groupLine, GroupsPage } from "./GroupsPage";

const { listServers, listServerProfiles, searchGroups, listPinnedGroups, pinGroup, unpinGroup } = vi.hoisted(() => ({
  listServers: vi.fn(),
  listServerProfiles: vi.fn(),
  searchGroups: vi.fn(),
  listPinnedGroups: vi.fn(),
  pinGroup: vi.fn(),
  unpinGroup: vi.fn(),
}));
vi.mock("../../ipc/commands", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../ipc/commands")>();
  return {
    ...real,
    commands: { ...real.commands, listServers, listServerProfiles, searchGroups, listPinnedGroups, pinGroup, unpinGroup },
  };
});

const server: Server = {
  id: 3,
  name: "Payer",
  baseUrl: "https://payer.test/fhir",
  auth: "open",
  clientId: null,
  scope: null,
  builtin: false,
  keyKid: null,
  tokenUrl: null,
  trustedOrigins: [],
  secretStyle: null,
  tokenParams: [],
  secretSaved: false,
  createdAt: "",
  updatedAt: "",
};
const north: GroupSummary = { id: "aco-north", name: "ACO North", identifier: "urn:aco|N", members: 120, kind: "person", actual: true };

// jsdom lays nothing out; the virtualized list needs a height to render rows into.
beforeAll(() => {
  Object.defineProperty(HTMLElement.prototype, "clientHeight", { configurable: true, get: () => 800 });
  Object.defineProperty(HTMLElement.prototype, "clientWidth", { configurable: true, get: () => 800 });
});

beforeEach(() => {
  listServers.mockReset().mockResolvedValue([server]);
  listServerProfiles.mockReset().mockResolvedValue([bcdaSandbox, standard]);
  searchGroups.mockReset().mockResolvedValue({ groups: [north], total: 1, next: null });
  listPinnedGroups.mockReset().mockResolvedValue([]);
  pinGroup.mockReset().mockResolvedValue(null);
  unpinGroup.mockReset().mockResolvedValue(null);
});

describe("the Groups page", () => {
  it("says what a group is in one line", () => {
    expect(groupLine(north)).toBe("120 members · person · urn:aco|N");
    expect(groupLine({ ...north, members: null, kind: null, identifier: null })).toBe("");
  });

  it("searches by name, pins, and hands a group to the Export page", async () => {
    const onExport = vi.fn();
    render(<GroupsPage onExport={onExport} />);
    await waitFor(() => expect(searchGroups).toHaveBeenCalledWith(3, null, null));
    await userEvent.type(screen.getByLabelText("Search by name"), "aco");
    await waitFor(() => expect(searchGroups).toHaveBeenLastCalledWith(3, "aco", null));
    expect(await screen.findByText(/^1 group on this server/)).toBeTruthy();
    await userEvent.click(screen.getByRole("button", { name: "Pin" }));
    expect(pinGroup).toHaveBeenCalledWith(3, north);
    await userEvent.type(screen.getByLabelText(/Export it directly/), "roster-7");
    await userEvent.click(screen.getByRole("button", { name: "Export this group" }));
    expect(onExport).toHaveBeenCalledWith({ serverId: 3, groupId: "roster-7" });
    // A group from the list goes with its name, for History to show.
    await userEvent.click(screen.getByTestId(`export-${north.id}`));
    expect(onExport).toHaveBeenLastCalledWith({ serverId: 3, groupId: north.id, name: north.name });
  });

  it("offers the groups a server's kind gives everyone, besides the search", async () => {
    const bcda: Server = { ...server, id: 4, name: "BCDA", profileId: "cms-bcda-sandbox" };
    listServers.mockResolvedValue([server, bcda]);
    const onExport = vi.fn();
    render(<GroupsPage onExport={onExport} />);
    await waitFor(() => expect(searchGroups).toHaveBeenCalledWith(3, null, null));
    // A server of no particular kind offers none.
    expect(screen.queryByText("Groups this server offers")).toBeNull();
    await userEvent.selectOptions(screen.getByLabelText("Server"), "4");
    const offered = await screen.findByTestId("offered-groups");
    expect(screen.getByRole("heading", { name: "Groups this server offers" })).toBeTruthy();
    expect(offered.textContent).toContain("All enrollees attributed to you");
    expect(offered.textContent).toContain("Runout: enrollees attributed last year but not this year");
    await userEvent.click(screen.getByRole("button", { name: "Export Runout: enrollees attributed last year but not this year" }));
    expect(onExport).toHaveBeenCalledWith({ serverId: 4, groupId: "runout", name: "Runout: enrollees attributed last year but not this year" });
    expect(screen.getByLabelText("Search by name")).toBeTruthy();
  });

  it("shows the server's refusal in plain words", async () => {
    searchGroups.mockRejectedValue({ code: "http_status", message: "The server refused to list its Groups (HTTP 403)." });
    render(<GroupsPage onExport={vi.fn()} />);
    expect(await screen.findByText(/refused to list its Groups/)).toBeTruthy();
  });
});

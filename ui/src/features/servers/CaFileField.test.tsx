import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { Server } from "../../ipc/commands";
import { CaFileField } from "./CaFileField";

const { setServerCaFile, openDialog } = vi.hoisted(() => ({ setServerCaFile: vi.fn(), openDialog: vi.fn() }));
vi.mock("../../ipc/commands", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../ipc/commands")>();
  return { ...real, commands: { ...real.commands, setServerCaFile } };
});
vi.mock("@tauri-apps/plugin-dialog", () => ({ open: openDialog }));

const server: Server = {
  id: 7,
  name: "Hospital",
  baseUrl: "https://fhir.hospital.example/fhir",
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
  createdAt: "2026-11-23T00:00:00Z",
  updatedAt: "2026-11-23T00:00:00Z",
};
const CA = "/home/ana/certificates/hospital-ca.pem";

const field = () => screen.getByLabelText(/CA certificate file/) as HTMLInputElement;

beforeEach(() => {
  setServerCaFile.mockReset();
  openDialog.mockReset();
});

describe("the CA certificate file of a saved server", () => {
  it("shows the saved file, and none as none", () => {
    const { unmount } = render(<CaFileField server={{ ...server, caFile: CA }} onChanged={vi.fn()} />);
    expect(field().value).toBe(CA);
    expect(screen.getByRole("button", { name: "Remove" })).toBeTruthy();
    unmount();

    render(<CaFileField server={server} onChanged={vi.fn()} />);
    expect(field().value).toBe("");
    expect(screen.queryByRole("button", { name: "Remove" })).toBeNull();
  });

  it("saves the chosen file at once and shows it", async () => {
    const onChanged = vi.fn();
    openDialog.mockResolvedValue(CA);
    setServerCaFile.mockResolvedValue({ ...server, caFile: CA });
    render(<CaFileField server={server} onChanged={onChanged} />);
    await userEvent.click(screen.getByRole("button", { name: "Choose file…" }));
    expect(openDialog).toHaveBeenCalledWith(expect.objectContaining({ multiple: false, directory: false }));
    expect(setServerCaFile).toHaveBeenCalledWith(7, CA);
    expect(await screen.findByDisplayValue(CA)).toBeTruthy();
    expect(onChanged).toHaveBeenCalledWith({ ...server, caFile: CA });
  });

  it("changes nothing when the dialog is closed without a file", async () => {
    openDialog.mockResolvedValue(null);
    render(<CaFileField server={{ ...server, caFile: CA }} onChanged={vi.fn()} />);
    await userEvent.click(screen.getByRole("button", { name: "Choose file…" }));
    expect(setServerCaFile).not.toHaveBeenCalled();
    expect(field().value).toBe(CA);
  });

  it("removes the file", async () => {
    const onChanged = vi.fn();
    setServerCaFile.mockResolvedValue(server);
    render(<CaFileField server={{ ...server, caFile: CA }} onChanged={onChanged} />);
    await userEvent.click(screen.getByRole("button", { name: "Remove" }));
    expect(setServerCaFile).toHaveBeenCalledWith(7, null);
    expect(await screen.findByDisplayValue("")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Remove" })).toBeNull();
    expect(onChanged).toHaveBeenCalledWith(server);
  });

  it("says under the field why a file was refused, and keeps the saved one", async () => {
    const onChanged = vi.fn();
    const refused = "The CA certificate file /home/ana/notes.txt cannot be used. It holds no PEM certificate.";
    openDialog.mockResolvedValue("/home/ana/notes.txt");
    setServerCaFile.mockRejectedValue({ code: "invalid_input", message: refused });
    render(<CaFileField server={{ ...server, caFile: CA }} onChanged={onChanged} />);
    await userEvent.click(screen.getByRole("button", { name: "Choose file…" }));
    const error = await screen.findByTestId("error-caFile");
    expect(error.textContent).toBe(refused);
    expect(field().getAttribute("aria-describedby")).toBe(error.id);
    expect(field().value).toBe(CA);
    expect(onChanged).not.toHaveBeenCalled();
  });
});

import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { Server } from "../../ipc/commands";
import { ServerForm } from "./ServerForm";

// The form talks to Rust through ../../ipc/commands; here that module is replaced so the form's own
// behaviour (validation, what it sends, how it shows errors) is tested alone. The real IPC is covered
// by the end-to-end tests.
const { addServer, updateServer, testConnection } = vi.hoisted(() => ({
  addServer: vi.fn(),
  updateServer: vi.fn(),
  testConnection: vi.fn(),
}));
vi.mock("../../ipc/commands", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../ipc/commands")>();
  return {
    ...real,
    commands: { ...real.commands, addServer, updateServer, testConnection, removeServer: vi.fn() },
  };
});

const saved: Server = {
  id: 7,
  name: "Payer",
  baseUrl: "https://ehr.example.org/fhir",
  auth: "open",
  clientId: null,
  scope: null,
  builtin: false,
  keyKid: null,
  tokenUrl: null,
  trustedOrigins: [],
  createdAt: "2026-11-23T00:00:00Z",
  updatedAt: "2026-11-23T00:00:00Z",
};

beforeEach(() => {
  addServer.mockReset();
  updateServer.mockReset();
  testConnection.mockReset();
});

describe("ServerForm", () => {
  it("does not send an invalid form and says why beside each field", async () => {
    const user = userEvent.setup();
    render(<ServerForm otherNames={["Existing"]} onSaved={vi.fn()} onCancel={vi.fn()} />);
    await user.type(screen.getByLabelText("Name"), "existing");
    await user.type(screen.getByLabelText("FHIR base URL"), "ehr.example.org");
    await user.click(screen.getByRole("button", { name: "Add server" }));
    expect(addServer).not.toHaveBeenCalled();
    expect(screen.getByText(/already exists/)).toBeTruthy();
    expect(screen.getByText(/should start with https:\/\//)).toBeTruthy();
    expect(screen.getByLabelText("Name").getAttribute("aria-invalid")).toBe("true");
    expect(document.activeElement).toBe(screen.getByLabelText("Name"));
  });

  it("sends a valid form and hands back the saved server", async () => {
    const user = userEvent.setup();
    const onSaved = vi.fn();
    addServer.mockResolvedValue(saved);
    render(<ServerForm otherNames={[]} onSaved={onSaved} onCancel={vi.fn()} />);
    await user.type(screen.getByLabelText("Name"), "Payer");
    await user.type(screen.getByLabelText("FHIR base URL"), "https://ehr.example.org/fhir/");
    await user.click(screen.getByRole("button", { name: "Add server" }));
    await waitFor(() => expect(onSaved).toHaveBeenCalledWith(saved));
    expect(addServer).toHaveBeenCalledWith({
      name: "Payer",
      baseUrl: "https://ehr.example.org/fhir/",
      auth: "open",
      clientId: undefined,
      scope: undefined,
      keyKid: undefined,
      tokenUrl: undefined,
      trustedOrigins: [],
    });
  });

  it("asks for a client ID when SMART is chosen and keeps the default scope", async () => {
    const user = userEvent.setup();
    updateServer.mockResolvedValue({ ...saved, auth: "smart_backend", clientId: "c1", scope: "system/*.read" });
    render(<ServerForm server={saved} otherNames={[]} onSaved={vi.fn()} onCancel={vi.fn()} />);
    await user.click(screen.getByLabelText(/SMART Backend Services/));
    await user.click(screen.getByRole("button", { name: "Save changes" }));
    expect(updateServer).not.toHaveBeenCalled();
    expect(screen.getByText(/Enter the client ID/)).toBeTruthy();
    await user.type(screen.getByLabelText("Client ID"), "c1");
    await user.click(screen.getByRole("button", { name: "Save changes" }));
    await waitFor(() => expect(updateServer).toHaveBeenCalled());
    expect(updateServer.mock.calls[0]).toEqual([
      7,
      {
        name: "Payer",
        baseUrl: "https://ehr.example.org/fhir",
        auth: "smart_backend",
        clientId: "c1",
        scope: "system/*.read",
        keyKid: undefined,
        tokenUrl: undefined,
        trustedOrigins: [],
      },
    ]);
  });

  it("puts a field error from Rust beside its field", async () => {
    const user = userEvent.setup();
    addServer.mockRejectedValue({ code: "duplicate_name", message: "A server named “Payer” already exists. Choose another name.", field: "name" });
    render(<ServerForm otherNames={[]} onSaved={vi.fn()} onCancel={vi.fn()} />);
    await user.type(screen.getByLabelText("Name"), "Payer");
    await user.type(screen.getByLabelText("FHIR base URL"), "https://a.example.org");
    await user.click(screen.getByRole("button", { name: "Add server" }));
    expect(await screen.findByTestId("error-name")).toHaveProperty("textContent", "A server named “Payer” already exists. Choose another name.");
  });

  it("sends the trusted storage addresses as a list, one per non-blank line", async () => {
    const user = userEvent.setup();
    const smart: Server = { ...saved, auth: "smart_backend", clientId: "c1", scope: "system/*.read" };
    const trusted = { ...smart, trustedOrigins: ["https://files.example.com"] };
    updateServer.mockResolvedValueOnce(trusted).mockResolvedValueOnce(smart);
    const { unmount } = render(<ServerForm server={smart} otherNames={[]} onSaved={vi.fn()} onCancel={vi.fn()} />);
    const field = screen.getByLabelText("Storage addresses trusted with the sign-in token");
    expect(field).toHaveProperty("value", "");
    await user.type(field, "  https://files.example.com {Enter}{Enter}   {Enter}https://store.example.net:8443");
    await user.click(screen.getByRole("button", { name: "Save changes" }));
    await waitFor(() => expect(updateServer).toHaveBeenCalledTimes(1));
    expect(updateServer.mock.calls[0]?.[1]).toMatchObject({
      trustedOrigins: ["https://files.example.com", "https://store.example.net:8443"],
    });
    unmount();

    // A saved list comes back one per line and, untouched, is sent back as it was.
    render(<ServerForm server={trusted} otherNames={[]} onSaved={vi.fn()} onCancel={vi.fn()} />);
    expect(screen.getByLabelText("Storage addresses trusted with the sign-in token")).toHaveProperty(
      "value",
      "https://files.example.com",
    );
    await user.click(screen.getByRole("button", { name: "Save changes" }));
    await waitFor(() => expect(updateServer).toHaveBeenCalledTimes(2));
    expect(updateServer.mock.calls[1]?.[1]).toMatchObject({ trustedOrigins: ["https://files.example.com"] });
  });

  it("puts Rust's refusal of a trusted storage address under that field", async () => {
    const user = userEvent.setup();
    const message =
      "“http://files.example.com” must start with https:// (plain http is allowed only for this computer: localhost or 127.0.0.1).";
    updateServer.mockRejectedValue({ code: "invalid_input", message, field: "trustedOrigins" });
    const smart: Server = { ...saved, auth: "smart_backend", clientId: "c1", scope: "system/*.read" };
    render(<ServerForm server={smart} otherNames={[]} onSaved={vi.fn()} onCancel={vi.fn()} />);
    const field = screen.getByLabelText("Storage addresses trusted with the sign-in token");
    await user.type(field, "http://files.example.com");
    await user.click(screen.getByRole("button", { name: "Save changes" }));
    expect(await screen.findByTestId("error-trustedOrigins")).toHaveProperty("textContent", message);
    expect(field.getAttribute("aria-invalid")).toBe("true");
    expect(screen.queryByText("Not saved")).toBeNull();
    // Leaving the field keeps Rust's message; editing the field clears it.
    await user.click(screen.getByLabelText("Name"));
    expect(screen.getByTestId("error-trustedOrigins")).toBeTruthy();
    await user.type(field, "x");
    expect(screen.queryByTestId("error-trustedOrigins")).toBeNull();
  });

  it("shows a failed connection test in plain words with details on request", async () => {
    const user = userEvent.setup();
    testConnection.mockRejectedValue({
      code: "unreachable",
      message: "Nothing answered at 127.0.0.1:9.",
      detail: "error sending request: connection refused",
    });
    render(<ServerForm otherNames={[]} onSaved={vi.fn()} onCancel={vi.fn()} />);
    await user.type(screen.getByLabelText("FHIR base URL"), "http://127.0.0.1:9/fhir");
    await user.click(screen.getByRole("button", { name: "Test connection" }));
    expect(testConnection).toHaveBeenCalledWith("http://127.0.0.1:9/fhir");
    expect(await screen.findByText("Nothing answered at 127.0.0.1:9.")).toBeTruthy();
    expect(screen.queryByText(/connection refused/)).toBeNull();
    await user.click(screen.getByRole("button", { name: "Show technical details" }));
    expect(screen.getByText(/connection refused/)).toBeTruthy();
  });
});

import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { Server } from "../../ipc/commands";
import { allProfiles, azure, bcdaSandbox } from "./profileFixtures";
import { ServerForm } from "./ServerForm";

/** Picks a server type once the types have arrived: they load after the form shows, later on a busy machine
 * (a CI run once found the select still empty). */
async function chooseServerType(user: ReturnType<typeof userEvent.setup>, id: string) {
  const select = await screen.findByLabelText("Server type");
  await waitFor(() => expect(select.querySelector(`option[value="${id}"]`)).not.toBeNull());
  await user.selectOptions(select, id);
}

// The form talks to Rust through ../../ipc/commands; here that module is replaced so the form's own
// behaviour (validation, what it sends, how it shows errors) is tested alone. The real IPC is covered
// by the end-to-end tests.
const { addServer, updateServer, testConnection, setServerSecret, listServerProfiles, setServerProfile } = vi.hoisted(
  () => ({
    addServer: vi.fn(),
    updateServer: vi.fn(),
    testConnection: vi.fn(),
    setServerSecret: vi.fn(),
    listServerProfiles: vi.fn(),
    setServerProfile: vi.fn(),
  }),
);
vi.mock("../../ipc/commands", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../ipc/commands")>();
  return {
    ...real,
    commands: {
      ...real.commands,
      addServer,
      updateServer,
      testConnection,
      setServerSecret,
      listServerProfiles,
      setServerProfile,
      removeServer: vi.fn(),
    },
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
  secretStyle: null,
  tokenParams: [],
  secretSaved: false,
  createdAt: "2026-11-23T00:00:00Z",
  updatedAt: "2026-11-23T00:00:00Z",
};

beforeEach(() => {
  addServer.mockReset();
  updateServer.mockReset();
  testConnection.mockReset();
  setServerSecret.mockReset();
  listServerProfiles.mockReset().mockResolvedValue(allProfiles);
  // Recording the kind hands back the server as just saved, with that kind (none: as it was).
  setServerProfile.mockReset().mockImplementation(async (_id: number, profileId: string | null) => {
    const server = (await [...addServer.mock.results, ...updateServer.mock.results].at(-1)?.value) as Server;
    return profileId === null ? server : { ...server, profileId };
  });
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
      secretStyle: undefined,
      tokenParams: [],
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
        secretStyle: undefined,
        tokenParams: [],
        assertionKid: "",
        jku: "",
      },
    ]);
  });

  it("sends how the server registered the key, and shows its refusal beside the JWKS URL", async () => {
    const user = userEvent.setup();
    const smart: Server = { ...saved, auth: "smart_backend", clientId: "c1", scope: "system/*.read" };
    updateServer.mockRejectedValueOnce({
      code: "invalid_input",
      message: "A JWKS URL must start with https:// (the server fetches your public key from it).",
      field: "jku",
    });
    render(<ServerForm server={smart} otherNames={[]} onSaved={vi.fn()} onCancel={vi.fn()} />);
    await user.click(screen.getByText("How the server registered the key (optional)"));
    await user.type(screen.getByLabelText("Key ID given by the server"), "6f1e-assigned");
    await user.type(screen.getByLabelText("JWKS URL registered with the server"), "http://keys.example.org/jwks.json");
    await user.click(screen.getByRole("button", { name: "Save changes" }));
    expect(await screen.findByTestId("error-jku")).toHaveProperty("textContent", expect.stringMatching(/https:\/\//));
    expect(updateServer.mock.calls[0]?.[1]).toMatchObject({
      assertionKid: "6f1e-assigned",
      jku: "http://keys.example.org/jwks.json",
    });
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
    expect(testConnection).toHaveBeenCalledWith("http://127.0.0.1:9/fhir", null);
    expect(await screen.findByText("Nothing answered at 127.0.0.1:9.")).toBeTruthy();
    expect(screen.queryByText(/connection refused/)).toBeNull();
    await user.click(screen.getByRole("button", { name: "Show technical details" }));
    expect(screen.getByText(/connection refused/)).toBeTruthy();
  });

  it("saves a client-secret server, and sends the secret to the keychain only", async () => {
    const user = userEvent.setup();
    const onSaved = vi.fn();
    const added: Server = { ...saved, auth: "client_secret", clientId: "bcda-1", secretStyle: "post" };
    addServer.mockResolvedValue(added);
    setServerSecret.mockResolvedValue({ ...added, secretSaved: true });
    render(<ServerForm otherNames={[]} onSaved={onSaved} onCancel={vi.fn()} />);
    await user.type(screen.getByLabelText("Name"), "BCDA");
    await user.type(screen.getByLabelText("FHIR base URL"), "https://sandbox.bcda.cms.gov/api/v2");
    await user.click(screen.getByTestId("auth-client-secret"));
    expect(screen.getByLabelText("Scope (optional)")).toHaveProperty("value", "");
    await user.type(screen.getByLabelText("Client ID"), "bcda-1");
    const secretField = screen.getByLabelText("Client secret");
    expect(secretField.getAttribute("type")).toBe("password");
    await user.type(secretField, "s3cret-value");
    await user.click(screen.getByTestId("secret-style-post"));
    await user.type(screen.getByLabelText("Extra token parameters (optional)"), "audience = https://api.test{Enter}{Enter}resource=r");
    await user.click(screen.getByRole("button", { name: "Add server" }));
    await waitFor(() => expect(onSaved).toHaveBeenCalledWith({ ...added, secretSaved: true }));
    const input = addServer.mock.calls[0]?.[0];
    expect(input).toMatchObject({
      auth: "client_secret",
      clientId: "bcda-1",
      scope: "",
      keyKid: undefined,
      secretStyle: "post",
      tokenParams: [
        ["audience", "https://api.test"],
        ["resource", "r"],
      ],
    });
    expect(JSON.stringify(input)).not.toContain("s3cret-value");
    expect(setServerSecret).toHaveBeenCalledWith(7, "s3cret-value");
    expect(screen.getByLabelText("Client secret")).toHaveProperty("value", "");
  });

  it("says a secret is saved, never shows it, and keeps it when the field is left empty", async () => {
    const user = userEvent.setup();
    const withSecret: Server = { ...saved, auth: "client_secret", clientId: "c", secretStyle: "basic", secretSaved: true };
    updateServer.mockResolvedValue(withSecret);
    render(<ServerForm server={withSecret} otherNames={[]} onSaved={vi.fn()} onCancel={vi.fn()} />);
    expect(screen.getByTestId("secret-saved").textContent).toContain("A secret is saved");
    expect(screen.getByLabelText("Client secret")).toHaveProperty("value", "");
    await user.click(screen.getByRole("button", { name: "Save changes" }));
    await waitFor(() => expect(updateServer).toHaveBeenCalled());
    expect(setServerSecret).not.toHaveBeenCalled();
    // Another method does not inherit the saved secret.
    await user.click(screen.getByTestId("auth-bearer-token"));
    expect(screen.queryByTestId("secret-saved")).toBeNull();
    expect(screen.getByTestId("secret-not-saved")).toBeTruthy();
  });

  it("asks a bearer-token server for the token alone", async () => {
    const user = userEvent.setup();
    const added: Server = { ...saved, auth: "bearer_token" };
    addServer.mockResolvedValue(added);
    setServerSecret.mockResolvedValue({ ...added, secretSaved: true });
    render(<ServerForm otherNames={[]} onSaved={vi.fn()} onCancel={vi.fn()} />);
    await user.type(screen.getByLabelText("Name"), "Gateway");
    await user.type(screen.getByLabelText("FHIR base URL"), "https://gw.example.org/fhir");
    await user.click(screen.getByTestId("auth-bearer-token"));
    expect(screen.queryByLabelText("Client ID")).toBeNull();
    expect(screen.queryByLabelText(/Token URL/)).toBeNull();
    await user.type(screen.getByLabelText("Bearer token"), "pasted-token");
    await user.click(screen.getByRole("button", { name: "Add server" }));
    await waitFor(() => expect(setServerSecret).toHaveBeenCalledWith(7, "pasted-token"));
    expect(addServer.mock.calls[0]?.[0]).toMatchObject({ auth: "bearer_token", clientId: undefined, tokenParams: [] });
  });

  it("shows a refused secret beside its field, and saving again updates the server it created", async () => {
    const user = userEvent.setup();
    const onSaved = vi.fn();
    const added: Server = { ...saved, auth: "bearer_token" };
    addServer.mockResolvedValue(added);
    updateServer.mockResolvedValue(added);
    setServerSecret
      .mockRejectedValueOnce({ code: "keychain", message: "This computer's keychain is locked." })
      .mockResolvedValueOnce({ ...added, secretSaved: true });
    render(<ServerForm otherNames={[]} onSaved={onSaved} onCancel={vi.fn()} />);
    await user.type(screen.getByLabelText("Name"), "Gateway");
    await user.type(screen.getByLabelText("FHIR base URL"), "https://gw.example.org/fhir");
    await user.click(screen.getByTestId("auth-bearer-token"));
    await user.type(screen.getByLabelText("Bearer token"), "pasted-token");
    await user.click(screen.getByRole("button", { name: "Add server" }));
    expect((await screen.findByTestId("error-secret")).textContent).toBe("This computer's keychain is locked.");
    expect(onSaved).not.toHaveBeenCalled();
    await user.click(screen.getByRole("button", { name: "Add server" }));
    await waitFor(() => expect(onSaved).toHaveBeenCalled());
    expect(addServer).toHaveBeenCalledTimes(1);
    expect(updateServer).toHaveBeenCalledWith(7, expect.objectContaining({ auth: "bearer_token" }));
  });

  it("refuses a token parameter line that is not name=value", async () => {
    const user = userEvent.setup();
    render(<ServerForm otherNames={[]} onSaved={vi.fn()} onCancel={vi.fn()} />);
    await user.type(screen.getByLabelText("Name"), "AB2D");
    await user.type(screen.getByLabelText("FHIR base URL"), "https://api.ab2d.cms.gov/api/v2/fhir");
    await user.click(screen.getByTestId("auth-client-secret"));
    await user.type(screen.getByLabelText("Client ID"), "c");
    await user.type(screen.getByLabelText("Extra token parameters (optional)"), "audience");
    await user.click(screen.getByRole("button", { name: "Add server" }));
    expect(addServer).not.toHaveBeenCalled();
    expect(screen.getByTestId("error-tokenParams").textContent).toContain("is not name=value");
  });
});

describe("ServerForm: the server type", () => {
  it("fills the form from a sandbox, its published credentials included, and records the type on save", async () => {
    const user = userEvent.setup();
    const onSaved = vi.fn();
    const added: Server = { ...saved, name: "CMS BCDA (sandbox)", auth: "client_secret", clientId: "6dc59a4c-sandbox" };
    addServer.mockResolvedValue(added);
    setServerSecret.mockImplementation(async () => ({ ...added, profileId: "cms-bcda-sandbox", secretSaved: true }));
    render(<ServerForm otherNames={[]} onSaved={onSaved} onCancel={vi.fn()} />);
    await chooseServerType(user, "cms-bcda-sandbox");
    expect(screen.getByLabelText("Name")).toHaveProperty("value", "CMS BCDA (sandbox)");
    expect(screen.getByLabelText("FHIR base URL")).toHaveProperty("value", "https://sandbox.bcda.cms.gov/api/v3");
    expect(screen.getByTestId("auth-client-secret")).toHaveProperty("checked", true);
    expect(screen.getByLabelText("Client ID")).toHaveProperty("value", "6dc59a4c-sandbox");
    expect(screen.getByLabelText("Client secret")).toHaveProperty("value", "48fe3a37-sandbox-secret");
    expect(screen.getByLabelText("Client secret").getAttribute("type")).toBe("password");
    expect(screen.getByLabelText("Token URL (optional)")).toHaveProperty("value", "https://sandbox.bcda.cms.gov/auth/token");
    expect(screen.getByTestId("secret-style-basic")).toHaveProperty("checked", true);
    // What to know about it: the summary, the notes, and where those facts come from.
    expect(screen.getByText(bcdaSandbox.summary)).toBeTruthy();
    expect(screen.getByTestId("profile-notes").textContent).toContain("Bearer tokens last 20 minutes.");
    expect(screen.getByText("Sources")).toBeTruthy();
    expect(screen.getByTestId("profile-sources").textContent).toContain(
      "https://bcda.cms.gov/api-documentation/get-a-bearer-token.html",
    );
    // Every field stays editable.
    await user.clear(screen.getByLabelText("Name"));
    await user.type(screen.getByLabelText("Name"), "BCDA test");
    await user.click(screen.getByRole("button", { name: "Add server" }));
    await waitFor(() => expect(onSaved).toHaveBeenCalled());
    const input = addServer.mock.calls[0]?.[0];
    expect(input).toMatchObject({
      name: "BCDA test",
      baseUrl: "https://sandbox.bcda.cms.gov/api/v3",
      auth: "client_secret",
      clientId: "6dc59a4c-sandbox",
      tokenUrl: "https://sandbox.bcda.cms.gov/auth/token",
      secretStyle: "basic",
    });
    expect(JSON.stringify(input)).not.toContain("48fe3a37-sandbox-secret");
    expect(setServerProfile).toHaveBeenCalledWith(7, "cms-bcda-sandbox");
    expect(setServerSecret).toHaveBeenCalledWith(7, "48fe3a37-sandbox-secret");
    // The secret went to the keychain and is not shown again.
    expect(screen.getByLabelText("Client secret")).toHaveProperty("value", "");
  });

  it("shows the address's shape for a per-organization server and asks for its <…> parts", async () => {
    const user = userEvent.setup();
    render(<ServerForm otherNames={[]} onSaved={vi.fn()} onCancel={vi.fn()} />);
    await chooseServerType(user, azure.id);
    const url = screen.getByLabelText("FHIR base URL");
    expect(url).toHaveProperty("value", "");
    expect(url.getAttribute("placeholder")).toBe("https://<workspace>-<fhir-service>.fhir.azurehealthcareapis.com");
    expect(screen.getByTestId("profile-placeholder-hint").textContent).toContain("Replace the <…> parts");
    expect(screen.getByLabelText("Name")).toHaveProperty("value", "Azure Health Data Services");
    expect(screen.getByLabelText("Token URL (optional)")).toHaveProperty(
      "value",
      "https://login.microsoftonline.com/<tenant-id>/oauth2/token",
    );
    expect(screen.getByTestId("secret-style-post")).toHaveProperty("checked", true);
    expect(screen.getByLabelText("Extra token parameters (optional)")).toHaveProperty(
      "value",
      "resource=https://<workspace>-<fhir-service>.fhir.azurehealthcareapis.com",
    );
    await user.type(url, "https://ws-fhir.fhir.azurehealthcareapis.com");
    await user.type(screen.getByLabelText("Client ID"), "app-1");
    await user.click(screen.getByRole("button", { name: "Add server" }));
    expect(addServer).not.toHaveBeenCalled();
    expect(screen.getByTestId("error-tokenUrl").textContent).toBe("Replace “<tenant-id>” with your server's own value.");
    expect(screen.getByTestId("error-tokenParams").textContent).toContain("“<workspace>” and “<fhir-service>”");
    // Typing two long values key by key takes seconds on a loaded machine.
  }, 20_000);

  it("shows an existing server's saved type, and saves the choice, none as null", async () => {
    const user = userEvent.setup();
    const smart: Server = { ...saved, auth: "smart_backend", clientId: "c1", scope: "system/*.read", profileId: "epic" };
    updateServer.mockResolvedValue(smart);
    render(<ServerForm server={smart} otherNames={[]} onSaved={vi.fn()} onCancel={vi.fn()} />);
    const picker = await screen.findByLabelText("Server type");
    await waitFor(() => expect(picker).toHaveProperty("value", "epic"));
    expect(screen.getByTestId("profile-key-hint").textContent).toContain("generate one on the Keys page");
    // Showing the saved type changes nothing in the form.
    expect(screen.getByLabelText("Name")).toHaveProperty("value", "Payer");
    await user.click(screen.getByRole("button", { name: "Save changes" }));
    await waitFor(() => expect(setServerProfile).toHaveBeenCalledWith(7, "epic"));
    await user.selectOptions(picker, "");
    expect(screen.queryByTestId("profile-facts")).toBeNull();
    await user.click(screen.getByRole("button", { name: "Save changes" }));
    await waitFor(() => expect(setServerProfile).toHaveBeenLastCalledWith(7, null));
  });

  it("offers a CA certificate file for a saved server, not a new one or the built-in demo", () => {
    const label = /CA certificate file/;
    const { unmount } = render(<ServerForm otherNames={[]} onSaved={vi.fn()} onCancel={vi.fn()} />);
    expect(screen.queryByLabelText(label)).toBeNull();
    unmount();
    const demo = render(<ServerForm server={{ ...saved, builtin: true }} otherNames={[]} onSaved={vi.fn()} onCancel={vi.fn()} />);
    expect(screen.queryByLabelText(label)).toBeNull();
    demo.unmount();
    render(<ServerForm server={{ ...saved, caFile: "/etc/haul/ca.pem" }} otherNames={[]} onSaved={vi.fn()} onCancel={vi.fn()} />);
    expect((screen.getByLabelText(label) as HTMLInputElement).value).toBe("/etc/haul/ca.pem");
  });
});

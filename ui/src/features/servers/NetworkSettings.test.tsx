import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { Server } from "../../ipc/commands";
import { NetworkSettings } from "./NetworkSettings";

const { setServerProxy, setServerClientCertificate, openDialog } = vi.hoisted(() => ({
  setServerProxy: vi.fn(),
  setServerClientCertificate: vi.fn(),
  openDialog: vi.fn(),
}));
vi.mock("../../ipc/commands", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../ipc/commands")>();
  return { ...real, commands: { ...real.commands, setServerProxy, setServerClientCertificate } };
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
const PROXY = "http://proxy.hospital.example:8080";
const withProxy: Server = { ...server, proxy: { url: PROXY, username: "nurse", passwordSaved: true } };

beforeEach(() => {
  setServerProxy.mockReset();
  setServerClientCertificate.mockReset();
  openDialog.mockReset();
});

describe("the network settings of a saved server", () => {
  it("says where a PAC file goes", () => {
    render(<NetworkSettings server={server} onChanged={vi.fn()} />);
    expect(screen.getByTestId("network-settings").textContent).toContain("automatic configuration (PAC) file included");
    expect(screen.getByTestId("network-settings").textContent).toContain("Settings → Network → Proxy");
  });

  it("sends the proxy with its password once and then only says it is saved", async () => {
    setServerProxy.mockResolvedValue(withProxy);
    const onChanged = vi.fn();
    render(<NetworkSettings server={server} onChanged={onChanged} />);
    await userEvent.type(screen.getByTestId("server-proxy-url"), PROXY);
    await userEvent.type(screen.getByTestId("server-proxy-username"), "nurse");
    const password = screen.getByTestId("server-proxy-password") as HTMLInputElement;
    expect(password.type).toBe("password");
    await userEvent.type(password, "hunter2-proxy");
    await userEvent.click(screen.getByTestId("save-proxy"));
    expect(setServerProxy).toHaveBeenCalledWith(7, { url: PROXY, username: "nurse", password: "hunter2-proxy" });
    expect(onChanged).toHaveBeenCalledWith(withProxy);
    expect(password.value).toBe("");
    expect(screen.getByTestId("proxy-password-saved").textContent).toContain("saved in this computer's keychain");
    expect(document.body.textContent).not.toContain("hunter2-proxy");
  });

  it("keeps the saved password when the form is saved without one, and removes the proxy", async () => {
    setServerProxy.mockResolvedValueOnce(withProxy).mockResolvedValueOnce(server);
    render(<NetworkSettings server={withProxy} onChanged={vi.fn()} />);
    expect((screen.getByTestId("server-proxy-url") as HTMLInputElement).value).toBe(PROXY);
    await userEvent.click(screen.getByTestId("save-proxy"));
    expect(setServerProxy).toHaveBeenCalledWith(7, { url: PROXY, username: "nurse", password: undefined });
    await userEvent.click(screen.getByTestId("remove-proxy"));
    expect(setServerProxy).toHaveBeenLastCalledWith(7, null);
    expect((screen.getByTestId("server-proxy-url") as HTMLInputElement).value).toBe("");
  });

  it("shows the proxy's refusal beside the fields", async () => {
    const refused = "“socks5:” proxies are not supported.";
    setServerProxy.mockRejectedValue({ code: "invalid_input", message: refused });
    render(<NetworkSettings server={server} onChanged={vi.fn()} />);
    await userEvent.type(screen.getByTestId("server-proxy-url"), "socks5://proxy:1080");
    await userEvent.click(screen.getByTestId("save-proxy"));
    expect(screen.getByTestId("error-proxy").textContent).toBe(refused);
  });

  it("reads a chosen .p12 file with its password and shows the certificate's subject and expiry", async () => {
    const certificate = { fileName: "nurse.p12", subject: "CN=nurse-station", notAfter: "2027-03-01T00:00:00Z", expired: false };
    setServerClientCertificate.mockResolvedValue({ ...server, clientCertificate: certificate });
    openDialog.mockResolvedValue("/home/ana/nurse.p12");
    const onChanged = vi.fn();
    render(<NetworkSettings server={server} onChanged={onChanged} />);
    await userEvent.type(screen.getByTestId("client-certificate-password"), "p12-pass");
    await userEvent.click(screen.getByTestId("choose-client-certificate"));
    expect(setServerClientCertificate).toHaveBeenCalledWith(7, "/home/ana/nurse.p12", "p12-pass");
    expect(screen.getByTestId("client-certificate").textContent).toContain("CN=nurse-station, valid until 2027-03-01");
    expect((screen.getByTestId("client-certificate-password") as HTMLInputElement).value).toBe("");
    expect(onChanged).toHaveBeenCalled();
  });

  it("warns about an expired certificate and removes it", async () => {
    const certificate = { fileName: "old.pem", subject: "CN=old", notAfter: "2020-01-01T00:00:00Z", expired: true };
    setServerClientCertificate.mockResolvedValue(server);
    render(<NetworkSettings server={{ ...server, clientCertificate: certificate }} onChanged={vi.fn()} />);
    expect(screen.getByTestId("client-certificate-expired").textContent).toContain("expired");
    await userEvent.click(screen.getByTestId("remove-client-certificate"));
    expect(setServerClientCertificate).toHaveBeenCalledWith(7, null, null);
    expect(screen.queryByTestId("client-certificate")).toBeNull();
  });

  it("puts a wrong file password's message beside the field", async () => {
    const wrong = "The client certificate file /home/ana/nurse.p12 cannot be used. The password does not open this PKCS#12 file.";
    setServerClientCertificate.mockRejectedValue({ code: "invalid_input", message: wrong });
    openDialog.mockResolvedValue("/home/ana/nurse.p12");
    render(<NetworkSettings server={server} onChanged={vi.fn()} />);
    await userEvent.click(screen.getByTestId("choose-client-certificate"));
    expect(screen.getByTestId("error-clientCertificate").textContent).toBe(wrong);
  });
});

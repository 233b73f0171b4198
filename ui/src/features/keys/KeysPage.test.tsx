import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { KeyInfo } from "../../ipc/commands";
import { KeysPage, labelProblem } from "./KeysPage";

const { listKeys, generateKey, deleteKey, keyJwks, keyPublicPem, saveKeyPublicPem, saveDialog } = vi.hoisted(() => ({
  listKeys: vi.fn(),
  generateKey: vi.fn(),
  deleteKey: vi.fn(),
  keyJwks: vi.fn(),
  keyPublicPem: vi.fn(),
  saveKeyPublicPem: vi.fn(),
  saveDialog: vi.fn(),
}));
vi.mock("../../ipc/commands", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../ipc/commands")>();
  return {
    ...real,
    commands: { ...real.commands, listKeys, generateKey, deleteKey, keyJwks, keyPublicPem, saveKeyPublicPem },
  };
});
vi.mock("@tauri-apps/plugin-dialog", () => ({ save: saveDialog }));

const PEM = "-----BEGIN PUBLIC KEY-----\nMHYwEAYHKoZIzj0CAQYFK4EEACIDYgAE\n-----END PUBLIC KEY-----\n";

const key: KeyInfo = {
  kid: "kid-123",
  label: "Payer prod",
  alg: "ES384",
  publicJwk: { kty: "EC" },
  createdAt: "2026-11-23T00:00:00Z",
  lastUsedAt: null,
  usedBy: ["Payer", "Payer staging"],
};

beforeEach(() => {
  listKeys.mockReset().mockResolvedValue([key]);
  generateKey.mockReset();
  deleteKey.mockReset().mockResolvedValue(["Payer", "Payer staging"]);
  keyJwks.mockReset().mockResolvedValue('{"keys":[{"kty":"EC","kid":"kid-123"}]}');
  keyPublicPem.mockReset().mockResolvedValue(PEM);
  saveKeyPublicPem.mockReset().mockResolvedValue(null);
  saveDialog.mockReset();
});

describe("the Keys page", () => {
  it("wants a label", () => {
    expect(labelProblem("  ")).toMatch(/Give the key a label/);
    expect(labelProblem("x".repeat(101))).toMatch(/under 100/);
    expect(labelProblem("Payer")).toBeNull();
  });

  it("generates a key only with a label, and says so", async () => {
    generateKey.mockResolvedValue({ ...key, kid: "new", label: "Test key" });
    render(<KeysPage />);
    await userEvent.click(await screen.findByRole("button", { name: "Generate key" }));
    expect(await screen.findByText(/Give the key a label/)).toBeTruthy();
    expect(generateKey).not.toHaveBeenCalled();
    await userEvent.type(screen.getByLabelText("Label"), "Test key");
    await userEvent.click(screen.getByRole("button", { name: "Generate key" }));
    expect(generateKey).toHaveBeenCalledWith("ES384", null, "Test key");
    expect(await screen.findByText(/Created “Test key”/)).toBeTruthy();
  });

  it("offers RSA sizes for RS384 only, 2048 unless another is chosen", async () => {
    generateKey.mockResolvedValue({ ...key, kid: "rsa", label: "DPC", alg: "RS384" });
    render(<KeysPage />);
    await screen.findByTestId("key-item");
    expect(screen.queryByLabelText("RSA key size")).toBeNull();
    await userEvent.click(screen.getByLabelText(/RS384/));
    const size = screen.getByLabelText("RSA key size") as HTMLSelectElement;
    expect(size.value).toBe("2048");
    expect(screen.getByText(/CMS DPC, ask for 4096/)).toBeTruthy();
    await userEvent.type(screen.getByLabelText("Label"), "DPC");
    await userEvent.click(screen.getByRole("button", { name: "Generate key" }));
    expect(generateKey).toHaveBeenLastCalledWith("RS384", 2048, "DPC");
    await screen.findByText(/Created “DPC” \(RS384, 2048 bits\)/);

    await userEvent.selectOptions(screen.getByLabelText("RSA key size"), "4096");
    await userEvent.type(screen.getByLabelText("Label"), "DPC 4096");
    await userEvent.click(screen.getByRole("button", { name: "Generate key" }));
    expect(generateKey).toHaveBeenLastCalledWith("RS384", 4096, "DPC 4096");

    // Back to ES384: no size goes with it.
    await userEvent.click(screen.getByLabelText(/ES384/));
    expect(screen.queryByLabelText("RSA key size")).toBeNull();
    await userEvent.type(screen.getByLabelText("Label"), "EC");
    await userEvent.click(screen.getByRole("button", { name: "Generate key" }));
    expect(generateKey).toHaveBeenLastCalledWith("ES384", null, "EC");
  });

  it("copies the public key as PEM and shows it", async () => {
    const user = userEvent.setup();
    render(<KeysPage />);
    await user.click(await screen.findByRole("button", { name: "Copy public key (PEM)" }));
    expect(keyPublicPem).toHaveBeenCalledWith("kid-123");
    expect((await screen.findByTestId("key-pem")).textContent).toBe(PEM);
    expect(await screen.findByText(/Copied the PEM/)).toBeTruthy();
    expect(await navigator.clipboard.readText()).toBe(PEM);
  });

  it("saves the public key as a .pem file where the user chose", async () => {
    saveDialog.mockResolvedValue("/home/me/Payer-prod-public.pem");
    render(<KeysPage />);
    await userEvent.click(await screen.findByRole("button", { name: "Save as .pem…" }));
    expect(saveDialog).toHaveBeenCalledWith(
      expect.objectContaining({ defaultPath: "Payer-prod-public.pem", filters: [{ name: "PEM", extensions: ["pem"] }] }),
    );
    await waitFor(() => expect(saveKeyPublicPem).toHaveBeenCalledWith("kid-123", "/home/me/Payer-prod-public.pem"));
    expect(await screen.findByText("Saved to /home/me/Payer-prod-public.pem.")).toBeTruthy();
  });

  it("writes no file when the save dialog is cancelled", async () => {
    saveDialog.mockResolvedValue(null);
    render(<KeysPage />);
    await userEvent.click(await screen.findByRole("button", { name: "Save as .pem…" }));
    await waitFor(() => expect(saveDialog).toHaveBeenCalled());
    await new Promise((settled) => setTimeout(settled, 0)); // let the dialog's answer be handled
    expect(saveKeyPublicPem).not.toHaveBeenCalled();
    expect(screen.queryByText(/Saved to/)).toBeNull();
  });

  it("shows the public key and names the servers before deleting", async () => {
    render(<KeysPage />);
    await userEvent.click(await screen.findByRole("button", { name: "Show public key" }));
    expect((await screen.findByTestId("key-jwks")).textContent).toContain("kid-123");
    await userEvent.click(screen.getByRole("button", { name: "Delete…" }));
    expect(screen.getByRole("alertdialog").textContent).toContain("Payer, Payer staging will no longer be able to sign in");
    expect(deleteKey).not.toHaveBeenCalled();
    await userEvent.click(screen.getByRole("button", { name: "Delete the key" }));
    await waitFor(() => expect(deleteKey).toHaveBeenCalledWith("kid-123"));
  });
});

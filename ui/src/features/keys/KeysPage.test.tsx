import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { KeyInfo } from "../../ipc/commands";
import { KeysPage, labelProblem } from "./KeysPage";

const { listKeys, generateKey, deleteKey, keyJwks } = vi.hoisted(() => ({
  listKeys: vi.fn(),
  generateKey: vi.fn(),
  deleteKey: vi.fn(),
  keyJwks: vi.fn(),
}));
vi.mock("../../ipc/commands", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../ipc/commands")>();
  return { ...real, commands: { ...real.commands, listKeys, generateKey, deleteKey, keyJwks } };
});

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
    expect(generateKey).toHaveBeenCalledWith("ES384", "Test key");
    expect(await screen.findByText(/Created “Test key”/)).toBeTruthy();
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

import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { ProofSignature } from "./ProofSignature";

const { signFileWithKey, openDialog } = vi.hoisted(() => ({ signFileWithKey: vi.fn(), openDialog: vi.fn() }));
vi.mock("../../ipc/commands", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../ipc/commands")>();
  return { ...real, commands: { ...real.commands, signFileWithKey } };
});
vi.mock("@tauri-apps/plugin-dialog", () => ({ open: openDialog }));

const SIGNATURE = "c2lnbmF0dXJl\n";

beforeEach(() => {
  signFileWithKey.mockReset().mockResolvedValue(SIGNATURE);
  openDialog.mockReset().mockResolvedValue("/home/ana/Downloads/snippet.txt");
});

describe("ProofSignature", () => {
  it("signs the chosen file with the key and shows the signature to paste", async () => {
    render(<ProofSignature kid="kid-rsa" />);
    await userEvent.click(screen.getByTestId("sign-file"));
    expect((await screen.findByTestId("proof-signature")).textContent).toBe(SIGNATURE);
    expect(signFileWithKey).toHaveBeenCalledWith("kid-rsa", "/home/ana/Downloads/snippet.txt");
    expect(screen.getByRole("status").textContent).toMatch(/Signed snippet\.txt/);
  });

  it("does nothing when no file is chosen, and says why when signing fails", async () => {
    openDialog.mockResolvedValueOnce(null);
    render(<ProofSignature kid="kid-rsa" />);
    await userEvent.click(screen.getByTestId("sign-file"));
    expect(signFileWithKey).not.toHaveBeenCalled();
    signFileWithKey.mockRejectedValueOnce({
      code: "invalid_input",
      message: "Haul cannot sign /tmp/big.iso: it is 4096 KB, and the file a portal asks you to sign is a few lines of text.",
    });
    await userEvent.click(screen.getByTestId("sign-file"));
    expect((await screen.findByText(/Could not sign the file/)).textContent).toBeTruthy();
    expect(screen.getByText(/few lines of text/)).toBeTruthy();
    expect(screen.queryByTestId("proof-signature")).toBeNull();
  });
});

import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { StorageSignIn } from "../../ipc/bindings/StorageSignIn";
import { StoragePage, formProblem } from "./StoragePage";

const { listStorageSignIns, saveStorageSignIn, testStorageSignIn, removeStorageSignIn } = vi.hoisted(() => ({
  listStorageSignIns: vi.fn(),
  saveStorageSignIn: vi.fn(),
  testStorageSignIn: vi.fn(),
  removeStorageSignIn: vi.fn(),
}));
vi.mock("../../ipc/commands", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../ipc/commands")>();
  return {
    ...real,
    commands: { ...real.commands, listStorageSignIns, saveStorageSignIn, testStorageSignIn, removeStorageSignIn },
  };
});

const saved: StorageSignIn = {
  id: 1,
  address: "s3://lake",
  kind: "s3",
  keyId: "AKIAEXAMPLE",
  region: "eu-west-1",
  endpoint: null,
  createdAt: "2026-11-30T10:00:00Z",
};

beforeEach(() => {
  listStorageSignIns.mockReset().mockResolvedValue([]);
  saveStorageSignIn.mockReset().mockResolvedValue(saved);
  testStorageSignIn.mockReset().mockResolvedValue(null);
  removeStorageSignIn.mockReset().mockResolvedValue(null);
});

describe("the Storage page", () => {
  it("says what is missing before asking the Rust side", () => {
    const base = { kind: "s3" as const, keyId: "AKIA", region: null, endpoint: null, secret: "x", address: "s3://b" };
    expect(formProblem(base)).toBeNull();
    expect(formProblem({ ...base, address: "az://b" })).toMatch(/starting with s3:\/\//);
    expect(formProblem({ ...base, keyId: " " })).toMatch(/access key id/);
    expect(formProblem({ ...base, secret: "" })).toMatch(/secret access key/);
    expect(formProblem({ ...base, kind: "gcs", keyId: "", address: "gs://b" })).toBeNull();
  });

  it("saves an S3 sign-in with what was typed, then lists it without its secret", async () => {
    render(<StoragePage />);
    expect(await screen.findByTestId("no-storage")).toBeTruthy();
    await userEvent.type(screen.getByTestId("storage-address"), "s3://lake");
    await userEvent.type(screen.getByTestId("storage-key-id"), "AKIAEXAMPLE");
    await userEvent.type(screen.getByTestId("storage-secret"), "the-secret");
    await userEvent.type(screen.getByTestId("storage-region"), "eu-west-1");
    listStorageSignIns.mockResolvedValue([saved]);
    await userEvent.click(screen.getByTestId("save-storage"));
    await waitFor(() => expect(saveStorageSignIn).toHaveBeenCalledTimes(1));
    expect(saveStorageSignIn).toHaveBeenCalledWith({
      address: "s3://lake",
      kind: "s3",
      keyId: "AKIAEXAMPLE",
      region: "eu-west-1",
      endpoint: null,
      secret: "the-secret",
    });
    expect((await screen.findByTestId("flash")).textContent).toMatch(/Saved the sign-in for s3:\/\/lake/);
    const item = await screen.findByTestId("storage-item");
    expect(item.textContent).toContain("AKIAEXAMPLE");
    expect(item.textContent).not.toContain("the-secret");
    expect((screen.getByTestId("storage-secret") as HTMLInputElement).value).toBe("");
  });

  it("asks Azure for an account and Google for a JSON key, and refuses a wrong scheme in words", async () => {
    render(<StoragePage />);
    await userEvent.click(await screen.findByTestId("storage-kind-azure"));
    expect(screen.getByLabelText("Storage account name")).toBeTruthy();
    await userEvent.type(screen.getByTestId("storage-address"), "s3://wrong");
    await userEvent.click(screen.getByTestId("test-storage"));
    expect((await screen.findByRole("alert")).textContent).toMatch(/az:\/\//);
    expect(testStorageSignIn).not.toHaveBeenCalled();
    await userEvent.click(screen.getByTestId("storage-kind-gcs"));
    expect(screen.queryByTestId("storage-key-id")).toBeNull();
    expect(screen.getByTestId("storage-secret").tagName).toBe("TEXTAREA");
  });

  it("removes a sign-in only after asking", async () => {
    listStorageSignIns.mockResolvedValue([saved]);
    render(<StoragePage />);
    await userEvent.click(await screen.findByTestId("remove-storage"));
    expect(removeStorageSignIn).not.toHaveBeenCalled();
    listStorageSignIns.mockResolvedValue([]);
    await userEvent.click(screen.getByTestId("confirm-remove-storage"));
    await waitFor(() => expect(removeStorageSignIn).toHaveBeenCalledWith(1));
    expect((await screen.findByTestId("flash")).textContent).toMatch(/Removed the sign-in for s3:\/\/lake/);
  });
});

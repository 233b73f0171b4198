import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { BlockingExport } from "./BlockingExport";

const { cancelBlockingExport } = vi.hoisted(() => ({ cancelBlockingExport: vi.fn() }));
vi.mock("../../ipc/commands", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../ipc/commands")>();
  return { ...real, commands: { ...real.commands, cancelBlockingExport } };
});

const URL = "https://bcda.test/api/v2/jobs/42";

beforeEach(() => cancelBlockingExport.mockReset().mockResolvedValue(URL));

describe("the export a busy server runs instead", () => {
  it("is cancelled on the server only after the user confirms", async () => {
    const onCancelled = vi.fn();
    render(<BlockingExport jobId={7} statusUrl={URL} onCancelled={onCancelled} />);
    await userEvent.click(screen.getByTestId("cancel-blocking"));
    expect(screen.getByRole("alertdialog").textContent).toContain(URL);
    expect(cancelBlockingExport).not.toHaveBeenCalled();
    await userEvent.click(screen.getByTestId("confirm-cancel-blocking"));
    await waitFor(() => expect(onCancelled).toHaveBeenCalled());
    expect(cancelBlockingExport).toHaveBeenCalledWith(7);
  });

  it("says why when the server would not cancel it", async () => {
    cancelBlockingExport.mockRejectedValueOnce({ code: "http_status", message: "The server refused (HTTP 403)." });
    render(<BlockingExport jobId={7} statusUrl={URL} onCancelled={vi.fn()} />);
    await userEvent.click(screen.getByTestId("cancel-blocking"));
    await userEvent.click(screen.getByTestId("confirm-cancel-blocking"));
    expect((await screen.findByText(/refused \(HTTP 403\)/)).textContent).toBeTruthy();
  });
});

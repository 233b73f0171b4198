import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { CommandError, type ProbeStep } from "../../ipc/commands";
import { ConnectionProbe, ProbeSteps } from "./ConnectionProbe";

const { probeServer } = vi.hoisted(() => ({ probeServer: vi.fn() }));
vi.mock("../../ipc/commands", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../ipc/commands")>();
  return { ...real, commands: { ...real.commands, probeServer } };
});

const allPassed: ProbeStep[] = [
  { step: "capability", outcome: "passed", message: "The address answers as a FHIR server.", detail: null },
  { step: "sign_in", outcome: "passed", message: "Signed in: the token endpoint gave Haul a token.", detail: null },
  { step: "kickoff", outcome: "passed", message: "The server accepted a test export.", detail: null },
];

const signInFailed: ProbeStep[] = [
  { step: "capability", outcome: "passed", message: "The address answers as a FHIR server.", detail: null },
  { step: "sign_in", outcome: "failed", message: "The server does not know this client ID.", detail: "HTTP 401 invalid_client" },
  { step: "kickoff", outcome: "skipped", message: "Not tried: Haul could not sign in.", detail: null },
];

beforeEach(() => {
  probeServer.mockReset();
});

const stepsShown = () =>
  screen.getAllByTestId("probe-step").map((li) => [li.dataset.outcome, li.querySelector("strong")?.textContent]);

describe("the whole-connection test", () => {
  it("lists passed steps under a title that says it all works", () => {
    render(<ProbeSteps steps={allPassed} />);
    expect(screen.getByTestId("probe-result").className).toContain("notice-ok");
    expect(screen.getByText("The whole connection works")).toBeTruthy();
    expect(stepsShown()).toEqual([
      ["passed", "Server address"],
      ["passed", "Sign-in"],
      ["passed", "Test export"],
    ]);
    expect(screen.getAllByText("Passed")).toHaveLength(3);
    expect(screen.queryByRole("button", { name: "Show details" })).toBeNull();
  });

  it("marks a failed step and the skipped one after it, with the detail one click away", async () => {
    render(<ProbeSteps steps={signInFailed} />);
    expect(screen.getByTestId("probe-result").className).toContain("notice-error");
    expect(screen.getByText("The connection does not work yet")).toBeTruthy();
    expect(stepsShown()).toEqual([
      ["passed", "Server address"],
      ["failed", "Sign-in"],
      ["skipped", "Test export"],
    ]);
    const [, signIn, kickoff] = screen.getAllByTestId("probe-step");
    expect(within(signIn!).getByText("Failed")).toBeTruthy();
    expect(within(signIn!).getByText("The server does not know this client ID.")).toBeTruthy();
    expect(within(kickoff!).getByText("Skipped")).toBeTruthy();
    expect(within(kickoff!).getByText("Not tried: Haul could not sign in.")).toBeTruthy();

    expect(screen.queryByText("HTTP 401 invalid_client")).toBeNull();
    await userEvent.click(within(signIn!).getByRole("button", { name: "Show details" }));
    expect(screen.getByText("HTTP 401 invalid_client")).toBeTruthy();
    await userEvent.click(within(signIn!).getByRole("button", { name: "Hide details" }));
    expect(screen.queryByText("HTTP 401 invalid_client")).toBeNull();
  });

  it("says so when a step was skipped and none failed", () => {
    render(
      <ProbeSteps
        steps={[
          allPassed[0]!,
          { step: "sign_in", outcome: "skipped", message: "This server is set up without sign-in.", detail: null },
          { step: "kickoff", outcome: "skipped", message: "The server is busy (HTTP 429).", detail: null },
        ]}
      />,
    );
    expect(screen.getByTestId("probe-result").className).toContain("notice-warn");
    expect(screen.getByText("Not every step could be tried")).toBeTruthy();
  });

  it("runs the saved server's test and shows its steps", async () => {
    probeServer.mockResolvedValue(signInFailed);
    render(<ConnectionProbe serverId={7} />);
    await userEvent.click(screen.getByRole("button", { name: "Test the whole connection" }));
    expect(probeServer).toHaveBeenCalledWith(7);
    expect(await screen.findByText("The connection does not work yet")).toBeTruthy();
    expect(screen.getAllByTestId("probe-step")).toHaveLength(3);
  });

  it("shows an error that stops the test from running (sign-in not set up)", async () => {
    probeServer.mockRejectedValue(
      new CommandError({ code: "invalid_input", message: "Choose a key and enter the client ID for “EHR”." }),
    );
    render(<ConnectionProbe serverId={7} />);
    await userEvent.click(screen.getByRole("button", { name: "Test the whole connection" }));
    expect(await screen.findByText("The test could not run")).toBeTruthy();
    expect(screen.getByText(/Choose a key and enter the client ID/)).toBeTruthy();
    expect(screen.queryByTestId("probe-result")).toBeNull();
  });
});

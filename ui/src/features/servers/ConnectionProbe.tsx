// "Test the whole connection" of a saved server: the address, the sign-in and a small export that Haul
// cancels at once, each step with its outcome in plain words. Kept apart from the form: it tests what is
// saved, not what is being typed.
import { useEffect, useRef, useState } from "react";
import { commands, toCommandError, type CommandError, type ProbeStep } from "../../ipc/commands";
import type { ProbeOutcome } from "../../ipc/bindings/ProbeOutcome";
import type { ProbeStepName } from "../../ipc/bindings/ProbeStepName";
import { ErrorNotice } from "../shell/ErrorNotice";
import { TechnicalDetail } from "../shell/TechnicalDetail";

const STEP_LABELS: Record<ProbeStepName, string> = {
  capability: "Server address",
  sign_in: "Sign-in",
  kickoff: "Test export",
};

// A mark and a word: the mark is quick to scan, the word does not depend on colour or on how a screen reader
// names "✓" (the mark is hidden from it).
const OUTCOMES: Record<ProbeOutcome, { mark: string; word: string; className: string }> = {
  passed: { mark: "✓", word: "Passed", className: "ok-text" },
  failed: { mark: "✗", word: "Failed", className: "error-text" },
  skipped: { mark: "–", word: "Skipped", className: "muted" },
};

function StepItem({ step }: { step: ProbeStep }) {
  const outcome = OUTCOMES[step.outcome];
  return (
    <li className="probe-step" data-testid="probe-step" data-outcome={step.outcome}>
      <span className={`probe-mark ${outcome.className}`} aria-hidden="true">
        {outcome.mark}
      </span>
      <div>
        <strong>{STEP_LABELS[step.step]}</strong> <span className={`probe-word ${outcome.className}`}>{outcome.word}</span>
        <p>{step.message}</p>
        {step.detail && <TechnicalDetail detail={step.detail} />}
      </div>
    </li>
  );
}

/** The steps as a list, under a title that sums them up. */
export function ProbeSteps({ steps }: { steps: ProbeStep[] }) {
  const failed = steps.some((s) => s.outcome === "failed");
  const exported = steps.some((s) => s.step === "kickoff" && s.outcome === "passed");
  const [tone, title] = failed
    ? ["notice-error", "The connection does not work yet"]
    : exported
      ? ["notice-ok", "The whole connection works"]
      : ["notice-warn", "Not every step could be tried"];
  return (
    <div className={`notice ${tone}`} data-testid="probe-result">
      <strong className="notice-title">{title}</strong>
      <ol className="probe-steps">
        {steps.map((s) => (
          <StepItem key={s.step} step={s} />
        ))}
      </ol>
    </div>
  );
}

type Probe =
  | { kind: "idle" }
  | { kind: "running" }
  | { kind: "done"; steps: ProbeStep[] }
  | { kind: "failed"; error: CommandError };

export function ConnectionProbe({ serverId }: { serverId: number }) {
  const [probe, setProbe] = useState<Probe>({ kind: "idle" });
  const resultRef = useRef<HTMLDivElement>(null);
  // The result appears under the button, at the foot of the page: bring it into view.
  useEffect(() => {
    if (probe.kind === "done" || probe.kind === "failed") resultRef.current?.scrollIntoView?.({ block: "nearest" });
  }, [probe.kind]);
  const run = async () => {
    setProbe({ kind: "running" });
    try {
      setProbe({ kind: "done", steps: await commands.probeServer(serverId) });
    } catch (e) {
      setProbe({ kind: "failed", error: toCommandError(e) });
    }
  };
  return (
    <div className="card probe-card">
      <div className="actions">
        <button type="button" onClick={run} disabled={probe.kind === "running"} data-testid="probe-server">
          {probe.kind === "running" ? "Testing…" : "Test the whole connection"}
        </button>
      </div>
      <p className="field-hint">
        With the saved settings: reads the server's capabilities, signs in, and starts a small export (Patient
        resources) that Haul cancels at once. Save your changes first to test them.
      </p>
      <div aria-live="polite" ref={resultRef}>
        {probe.kind === "done" && <ProbeSteps steps={probe.steps} />}
        {probe.kind === "failed" && <ErrorNotice error={probe.error} title="The test could not run" />}
      </div>
    </div>
  );
}

import { Ban, CircleAlert, CircleCheck, CircleX, LoaderCircle, CirclePause, type LucideIcon } from "lucide-react";

/** The five looks a job's state can have: the colour and the icon go together, so colour is never alone. */
export type Tone = "ok" | "warn" | "error" | "muted" | "active";

const ICON: Record<Tone, LucideIcon> = {
  ok: CircleCheck,
  warn: CircleAlert,
  error: CircleX,
  muted: Ban,
  active: LoaderCircle,
};

/** A state in words, with its colour and icon: "Completed" in green with a tick. */
export function StatusBadge({ tone, label, paused, testId }: { tone: Tone; label: string; paused?: boolean; testId?: string }) {
  const Icon = paused ? CirclePause : ICON[tone];
  return (
    <span className={`status status-${tone}`} data-testid={testId} data-tone={tone}>
      <Icon aria-hidden="true" size={15} strokeWidth={2.25} className={tone === "active" ? "spin" : undefined} />
      <span>{label}</span>
    </span>
  );
}

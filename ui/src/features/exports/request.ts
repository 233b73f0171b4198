// The Export form as data: what the user chose, turned into the ExportRequest the engine runs, and the
// problems that stop it from starting (in plain words, per field).
import type { ExportRequest } from "../../ipc/bindings/ExportRequest";
import type { JobRecord } from "../../ipc/bindings/JobRecord";

export type Level = "system" | "patient" | "group";

export type ExportForm = {
  serverId: number | null;
  level: Level;
  groupId: string;
  /** The group's name where it was chosen from the server's list ("" if typed): shown in History. */
  groupName: string;
  types: string[];
  /** "" or a value from <input type="datetime-local"> (local time, no zone). */
  since: string;
  sinceLast: boolean;
  /** With a `_since` on a group: also fetch the full records of patients who joined (on by default). */
  newMemberRecords: boolean;
  /** "" or a datetime-local value: only resources changed up to it (`_until`; AB2D, IG v2 servers). */
  until: string;
  /** Azure's `_container` (only for servers whose kind takes it); "" leaves it to the server. */
  container: string;
  elements: string;
  patients: string;
  typeFilters: string;
  lenient: boolean;
  outDir: string;
  parallel: number;
  deleteAfter: boolean;
};

export const RESOURCE_TYPES = [
  "Patient",
  "AllergyIntolerance",
  "Condition",
  "Encounter",
  "Observation",
  "Procedure",
  "Immunization",
  "MedicationRequest",
  "DiagnosticReport",
  "DocumentReference",
  "CarePlan",
  "Coverage",
  "Claim",
  "ExplanationOfBenefit",
  "Practitioner",
  "Organization",
  "Location",
] as const;

export const PRESETS: { id: string; label: string; types: string[] }[] = [
  { id: "all", label: "Everything the server has", types: [] },
  {
    id: "us-core",
    label: "US Core clinical",
    types: [
      "Patient",
      "AllergyIntolerance",
      "Condition",
      "Encounter",
      "Observation",
      "Procedure",
      "Immunization",
      "MedicationRequest",
      "DiagnosticReport",
      "DocumentReference",
      "CarePlan",
    ],
  },
  { id: "financial", label: "Financial", types: ["Patient", "Coverage", "Claim", "ExplanationOfBenefit"] },
];

export function emptyForm(serverId: number | null): ExportForm {
  return {
    serverId,
    level: "group",
    groupId: "",
    groupName: "",
    types: [],
    since: "",
    sinceLast: false,
    newMemberRecords: true,
    until: "",
    container: "",
    elements: "",
    patients: "",
    typeFilters: "",
    lenient: false,
    outDir: "",
    parallel: 4,
    deleteAfter: true,
  };
}

const list = (text: string, separator: RegExp = /[,\s]+/) =>
  text
    .split(separator)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

/** A datetime-local value ("2026-01-31T08:00") as a FHIR instant in UTC; null if it is not one. */
export function localToInstant(value: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value)) return null;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return null;
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export type FormProblems = Partial<
  Record<"server" | "groupId" | "since" | "until" | "patients" | "typeFilters" | "parallel", string>
>;

export function formProblems(form: ExportForm): FormProblems {
  const problems: FormProblems = {};
  if (form.serverId === null) problems.server = "Choose the server to export from.";
  if (form.level === "group" && form.groupId.trim() === "") {
    problems.groupId = "Enter the Group's id (the roster to export), or choose another level.";
  } else if (form.level === "group" && /[\s/?#]/.test(form.groupId.trim())) {
    problems.groupId = "A Group id has no spaces or / ? # in it. Paste only the id, not the whole address.";
  }
  if (!form.sinceLast && form.since !== "" && localToInstant(form.since) === null) {
    problems.since = "Pick a date and a time, or leave it empty for everything.";
  }
  if (form.until !== "") {
    const until = localToInstant(form.until);
    const since = form.sinceLast ? null : localToInstant(form.since);
    if (until === null) {
      problems.until = "Pick a date and a time, or leave it empty for everything up to now.";
    } else if (since !== null && until <= since) {
      // Both are UTC instants of one shape, so text order is time order.
      problems.until = "Choose a moment after “changed since”: nothing changed in between could be exported.";
    }
  }
  if (form.level === "system" && list(form.patients).length > 0) {
    problems.patients = "Patients can be chosen for an all-patients or a group export only.";
  }
  for (const filter of list(form.typeFilters, /\n+/)) {
    if (!/^[A-Z][A-Za-z]+\?.+/.test(filter)) {
      problems.typeFilters = `“${filter}” is not a type filter. Write it as Type?query, for example Observation?category=laboratory.`;
      break;
    }
  }
  if (!Number.isInteger(form.parallel) || form.parallel < 1 || form.parallel > 32) {
    problems.parallel = "Between 1 and 32 files at a time.";
  }
  return problems;
}

export function toRequest(form: ExportForm): ExportRequest {
  const level =
    form.level === "group"
      ? { kind: "group" as const, groupId: form.groupId.trim() }
      : form.level === "patient"
        ? { kind: "patient" as const }
        : { kind: "system" as const };
  const until = form.until === "" ? null : localToInstant(form.until);
  const container = form.container.trim();
  return {
    level,
    outputFormat: null,
    since: form.sinceLast ? null : localToInstant(form.since),
    // Left out when empty: `until` is optional on the Rust side, and a server that lacks `_until` never sees it.
    ...(until !== null ? { until } : {}),
    // Its name is checked by the engine (Azure's rule), so a bad one shows in the preview before starting.
    ...(container !== "" ? { container } : {}),
    types: [...form.types],
    elements: list(form.elements),
    patients: list(form.patients),
    typeFilters: list(form.typeFilters, /\n+/),
    includeAssociatedData: [],
    lenient: form.lenient,
    post: false,
    extra: [],
  };
}

/** A FHIR instant as a datetime-local value in the user's time zone ("2026-01-31T08:00"); "" for none. */
export function instantToLocal(instant: string | null | undefined): string {
  if (!instant) return "";
  const t = new Date(instant);
  if (Number.isNaN(t.getTime())) return "";
  const p = (n: number) => String(n).padStart(2, "0");
  const seconds = t.getSeconds() ? `:${p(t.getSeconds())}` : "";
  return `${t.getFullYear()}-${p(t.getMonth() + 1)}-${p(t.getDate())}T${p(t.getHours())}:${p(t.getMinutes())}${seconds}`;
}

/**
 * The form an earlier export was started from, for "Run again" and "Export again": the same server, level,
 * types, filters and settings, shown before anything starts; a new folder.
 */
export function formFromJob(job: JobRecord): ExportForm {
  const r = job.request;
  const level: Level = r.level?.kind ?? "system";
  return {
    ...emptyForm(job.serverId),
    level,
    groupId: r.level?.kind === "group" ? r.level.groupId : "",
    groupName: job.settings.groupName ?? "",
    types: [...r.types],
    since: instantToLocal(r.since),
    until: instantToLocal(r.until),
    container: r.container ?? "",
    elements: r.elements.join(", "),
    patients: r.patients.join(", "),
    typeFilters: r.typeFilters.join("\n"),
    lenient: r.lenient,
    parallel: job.settings.parallel,
    deleteAfter: job.settings.deleteAfter,
    newMemberRecords: job.settings.newMemberRecords ?? true,
  };
}

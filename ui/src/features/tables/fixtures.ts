import type { ViewInfo } from "../../ipc/bindings/ViewInfo";
import type { ViewOutcome } from "../../ipc/bindings/ViewOutcome";

export function outcome(over: Partial<ViewOutcome> = {}): ViewOutcome {
  return { view: "patient", resource: "Patient", rows: 100, columns: 16, files: [], notes: [], failure: null, ...over };
}

export function viewInfo(over: Partial<ViewInfo> = {}): ViewInfo {
  return {
    name: "patient",
    title: "Patients",
    description: "One row per patient.",
    resource: "Patient",
    columns: ["id", "gender"],
    file: null,
    ...over,
  };
}

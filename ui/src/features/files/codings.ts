// Every coded value in a resource (a Coding: system + code, perhaps display), with where it sits, for the
// resource view's "Codes" list: a researcher reads `LOINC 8867-4 Heart rate` at a glance instead of
// unfolding code.coding[0] by hand.
import type { JsonNode } from "./json";

export type CodingRow = { path: string; system: string; systemName: string | null; code: string; display: string | null };

/** Names of the code systems a US export is full of; anything else is shown by its URL. */
const SYSTEMS: Record<string, string> = {
  "http://loinc.org": "LOINC",
  "http://snomed.info/sct": "SNOMED CT",
  "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
  "http://hl7.org/fhir/sid/icd-10-cm": "ICD-10-CM",
  "http://hl7.org/fhir/sid/icd-10": "ICD-10",
  "http://www.cms.gov/Medicare/Coding/ICD10": "ICD-10-PCS",
  "http://www.ama-assn.org/go/cpt": "CPT",
  "https://bluebutton.cms.gov/resources/codesystem/hcpcs": "HCPCS",
  "http://hl7.org/fhir/sid/cvx": "CVX",
  "http://hl7.org/fhir/sid/ndc": "NDC",
  "http://unitsofmeasure.org": "UCUM",
  "urn:oid:2.16.840.1.113883.6.238": "CDC Race & Ethnicity",
  "http://terminology.hl7.org/CodeSystem/observation-category": "Observation category",
  "http://terminology.hl7.org/CodeSystem/condition-clinical": "Clinical status",
  "http://terminology.hl7.org/CodeSystem/condition-ver-status": "Verification status",
  "http://terminology.hl7.org/CodeSystem/v3-ActCode": "HL7 ActCode",
  "http://terminology.hl7.org/CodeSystem/v2-0203": "HL7 identifier type",
};

export function systemName(system: string): string | null {
  return SYSTEMS[system] ?? null;
}

const text = (n: JsonNode | undefined): string | null => (n?.kind === "string" ? n.value : null);

/** The codings in document order; `path` in FHIRPath-like form (`code.coding[0]`). */
export function codingsOf(root: JsonNode): CodingRow[] {
  const out: CodingRow[] = [];
  const walk = (n: JsonNode, path: string) => {
    if (n.kind === "array") {
      n.items.forEach((item, i) => walk(item, `${path}[${i}]`));
      return;
    }
    if (n.kind !== "object") return;
    const get = (k: string) => n.entries.find(([key]) => key === k)?.[1];
    const system = text(get("system"));
    const code = text(get("code"));
    // A Coding has a system and a code; an Identifier has a system and a value, and is not one.
    if (system !== null && code !== null) {
      out.push({ path, system, systemName: systemName(system), code, display: text(get("display")) });
    }
    for (const [k, v] of n.entries) walk(v, path === "" ? k : `${path}.${k}`);
  };
  walk(root, "");
  return out;
}

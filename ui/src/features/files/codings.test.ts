import { describe, expect, it } from "vitest";
import { codingsOf } from "./codings";
import { parseJson } from "./json";

describe("codingsOf", () => {
  it("lists every coding with its path and the code system's name", () => {
    const observation = parseJson(
      JSON.stringify({
        resourceType: "Observation",
        identifier: [{ system: "urn:mrn", value: "123" }],
        category: [{ coding: [{ system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "vital-signs" }] }],
        code: { coding: [{ system: "http://loinc.org", code: "8867-4", display: "Heart rate" }], text: "Heart rate" },
        valueQuantity: { value: 72, unit: "/min", system: "http://unitsofmeasure.org", code: "/min" },
      }),
    );
    expect(codingsOf(observation)).toEqual([
      { path: "category[0].coding[0]", system: "http://terminology.hl7.org/CodeSystem/observation-category", systemName: "Observation category", code: "vital-signs", display: null },
      { path: "code.coding[0]", system: "http://loinc.org", systemName: "LOINC", code: "8867-4", display: "Heart rate" },
      { path: "valueQuantity", system: "http://unitsofmeasure.org", systemName: "UCUM", code: "/min", display: null },
    ]);
  });

  it("finds none where there are none", () => {
    expect(codingsOf(parseJson('{"resourceType":"Patient","id":"p1"}'))).toEqual([]);
  });
});

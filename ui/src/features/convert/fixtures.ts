import type { ConversionReport } from "../../ipc/bindings/ConversionReport";
import type { TypeReport } from "../../ipc/bindings/TypeReport";

export function typeReport(over: Partial<TypeReport>): TypeReport {
  return {
    resourceType: "Patient",
    files: 1,
    inputBytes: 1000,
    ndjsonBytes: 4000,
    rows: 10,
    badLines: 0,
    blankLines: 0,
    nullProperties: 0,
    outputFile: "/x/parquet/Patient.parquet",
    outputBytes: 900,
    rowGroups: 1,
    columns: 12,
    jsonColumns: [],
    newColumns: [],
    widenedColumns: [],
    schemaRecalled: false,
    ...over,
  };
}

export function report(over: Partial<ConversionReport>): ConversionReport {
  return {
    outDir: "/x/parquet",
    types: [typeReport({})],
    badLines: 0,
    badLinesFile: null,
    badLineExamples: [],
    warnings: [],
    seconds: 2,
    ...over,
  };
}

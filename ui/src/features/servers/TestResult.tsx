// What "Test connection" found at a base URL: the server's software, FHIR version and Bulk Data support.
import type { ServerSummary } from "../../ipc/commands";

export function TestResult({ summary }: { summary: ServerSummary }) {
  const levels = summary.exportLevels.length > 0 ? summary.exportLevels.join(", ") : "none listed";
  return (
    <div className={`notice ${summary.instantiatesBulkData ? "notice-ok" : "notice-warn"}`} data-testid="test-result">
      <strong className="notice-title">
        {summary.instantiatesBulkData ? "Connected: a Bulk Data server" : "Connected, but Bulk Data is not declared"}
      </strong>
      <dl className="facts">
        <dt>Software</dt>
        <dd>
          {summary.software ?? "not stated"}
          {summary.softwareVersion ? ` ${summary.softwareVersion}` : ""}
        </dd>
        <dt>FHIR version</dt>
        <dd>{summary.fhirVersion ?? "not stated"}</dd>
        <dt>Bulk Data</dt>
        <dd>
          {summary.instantiatesBulkData
            ? "Yes: it instantiates the Bulk Data CapabilityStatement"
            : "Not declared: the server does not say it instantiates the Bulk Data CapabilityStatement. Exports may still work; ask its administrators."}
        </dd>
        <dt>Export levels</dt>
        <dd>{levels}</dd>
      </dl>
    </div>
  );
}

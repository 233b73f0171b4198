import { useState } from "react";
import { FolderOpen } from "lucide-react";
import type { ConversionReport } from "../../ipc/bindings/ConversionReport";
import type { ConvertProgress } from "../../ipc/bindings/ConvertProgress";
import { commands, toCommandError, type CommandError } from "../../ipc/commands";
import { formatBytes, formatCount } from "../../format";
import { ErrorNotice } from "../shell/ErrorNotice";
import { RunningCard } from "../shell/RunningCard";
import type { DeltaReport } from "../../ipc/bindings/DeltaReport";
import { headline, progressText } from "./convert";
import { DeltaReportView } from "./DeltaReportView";
import { DeltaVacuum } from "./DeltaVacuum";

type Stage =
  | { kind: "running"; progress: ConvertProgress | null; cancelling: boolean }
  | { kind: "done"; report: ConversionReport }
  | { kind: "deltaDone"; report: DeltaReport }
  | { kind: "failed"; error: CommandError };

type Output = "parquet" | "delta";

/** Where the last Delta conversion went: the next month's usually goes to the same tables. */
const DELTA_TARGET_KEY = "haul.deltaTarget";

/** Converts one export to Parquet (History → Convert), with progress and, at the end, what came out. */
export function ConvertPanel({ exportId, onClose }: { exportId: number; onClose: () => void }) {
  const [stage, setStage] = useState<Stage | null>(null);
  const [openError, setOpenError] = useState<CommandError | null>(null);
  const [output, setOutput] = useState<Output>("parquet");
  const [target, setTarget] = useState(() => localStorage.getItem(DELTA_TARGET_KEY) ?? "");
  const [targetError, setTargetError] = useState<string | null>(null);
  // Old versions' files being removed from the tables at `target`: no conversion into them meanwhile.
  const [vacuuming, setVacuuming] = useState(false);

  const onProgress = (progress: ConvertProgress) =>
    setStage((s) => (s?.kind === "running" ? { ...s, progress } : s));
  const fail = (e: unknown) => setStage({ kind: "failed", error: toCommandError(e) });
  const start = () => {
    if (output === "delta") {
      if (target.trim() === "") {
        setTargetError("Write a folder or a storage address for the tables.");
        document.getElementById("delta-target")?.focus();
        return;
      }
      localStorage.setItem(DELTA_TARGET_KEY, target.trim());
      setStage({ kind: "running", progress: null, cancelling: false });
      commands
        .convertExportToDelta(exportId, target.trim(), onProgress)
        .then((report) => setStage({ kind: "deltaDone", report }))
        .catch(fail);
      return;
    }
    setStage({ kind: "running", progress: null, cancelling: false });
    commands
      .convertExport(exportId, null, onProgress)
      .then((report) => setStage({ kind: "done", report }))
      .catch(fail);
  };
  const title = output === "delta" ? "Write Delta Lake tables" : "Convert to Parquet";

  if (stage === null) {
    return (
      <section className="card" data-testid="convert-panel">
        <h3>Convert</h3>
        <fieldset className="field">
          <legend>Make</legend>
          <label className="choice">
            <input
              type="radio"
              name="convert-output"
              checked={output === "parquet"}
              disabled={vacuuming}
              onChange={() => setOutput("parquet")}
            />
            Parquet files in this export&apos;s folder
          </label>
          <label className="choice">
            <input
              type="radio"
              name="convert-output"
              data-testid="convert-output-delta"
              checked={output === "delta"}
              onChange={() => setOutput("delta")}
            />
            Delta Lake tables that each export updates
          </label>
        </fieldset>
        {output === "parquet" ? (
          <p>
            One Parquet file per resource type, in the folder <code>parquet</code> inside this export. Every record is
            read to learn the exact columns; values that differ in kind are kept as JSON text and listed. Bad lines
            are left out and listed; nothing else is dropped.
          </p>
        ) : (
          <div className="field">
            <label htmlFor="delta-target">Folder or storage address</label>
            <input
              id="delta-target"
              data-testid="delta-target"
              value={target}
              disabled={vacuuming}
              placeholder="s3://bucket/tables, az://container/tables or a folder"
              aria-invalid={targetError !== null ? true : undefined}
              aria-describedby="delta-target-hint"
              onChange={(e) => {
                setTarget(e.target.value);
                setTargetError(null);
              }}
            />
            {targetError && (
              <p className="field-error">{targetError}</p>
            )}
            <p className="field-hint" id="delta-target-hint">
              One table per resource type, read by Spark, Databricks, Trino and DuckDB. A full export replaces each
              table&apos;s contents; an export of changes only is merged in (changed resources replaced, deleted ones
              taken out), as one new version of each table. Storage credentials come from the sign-in saved on the
              Storage page, else from the environment Haul was started in (AWS_…, AZURE_STORAGE_…,
              GOOGLE_APPLICATION_CREDENTIALS).
            </p>
          </div>
        )}
        <div className="actions">
          <button type="button" className="primary" data-testid="convert-start" disabled={vacuuming} onClick={start}>
            {output === "delta" ? "Write tables" : "Convert"}
          </button>
          <button type="button" onClick={onClose}>
            Close
          </button>
        </div>
        {output === "delta" && target.trim() !== "" && (
          <DeltaVacuum key={target.trim()} target={target.trim()} onBusy={setVacuuming} />
        )}
      </section>
    );
  }

  if (stage.kind === "running") {
    const p = stage.progress;
    return (
      <RunningCard
        testId="convert-panel"
        title={output === "delta" ? "Writing Delta Lake tables…" : "Converting to Parquet…"}
        progressTestId="convert-progress"
        max={p?.totalBytes || 1}
        value={p?.doneBytes ?? 0}
        status={progressText(p)}
        cancelling={stage.cancelling}
        onStop={() => {
          setStage({ ...stage, cancelling: true });
          commands.cancelConversion(exportId).catch(() => undefined);
        }}
      />
    );
  }

  if (stage.kind === "failed") {
    return (
      <section className="card" data-testid="convert-panel">
        <h3>{title}</h3>
        <ErrorNotice error={stage.error} title={stage.error.code === "interrupted" ? "Stopped" : "The conversion failed"} />
        <div className="actions">
          <button type="button" className="primary" onClick={start}>
            Try again
          </button>
          <button type="button" onClick={onClose}>
            Close
          </button>
        </div>
      </section>
    );
  }

  if (stage.kind === "deltaDone") {
    return <DeltaReportView report={stage.report} onClose={onClose} />;
  }

  const r = stage.report;
  return (
    // The report appears where the progress was, perhaps below the fold: brought into view.
    <section className="card" data-testid="convert-panel" ref={(el) => el?.scrollIntoView?.({ block: "nearest" })}>
      <h3>Converted to Parquet</h3>
      <p className="notice notice-ok" role="status" data-testid="convert-headline">
        {headline(r)}
      </p>
      <p>
        Folder: <code data-testid="convert-folder">{r.outDir}</code>
      </p>
      <div className="table-scroll">
      <table className="files-table" data-testid="convert-report">
        <thead>
          <tr>
            <th>Type</th>
            <th className="num">Rows</th>
            <th className="num">NDJSON</th>
            <th className="num">Parquet</th>
            <th className="num">Columns</th>
            <th className="num">Bad lines</th>
            <th>Kept as JSON text</th>
          </tr>
        </thead>
        <tbody>
          {r.types.map((t) => (
            <tr key={t.resourceType}>
              <td>{t.resourceType}</td>
              <td className="num">{formatCount(t.rows)}</td>
              <td className="num">{formatBytes(t.ndjsonBytes)}</td>
              <td className="num">{t.outputFile ? formatBytes(t.outputBytes) : "no table"}</td>
              <td className="num">{t.columns}</td>
              <td className="num">{t.badLines}</td>
              <td>
                {t.jsonColumns.length === 0
                  ? "—"
                  : t.jsonColumns.map((c) => `${c.path} (${c.kinds.join(", ")})`).join("; ")}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      </div>
      {r.types.some((t) => t.newColumns.length > 0 || t.widenedColumns.length > 0) && (
        <div className="notice" data-testid="convert-schema-changes">
          <p>The tables keep the columns of earlier conversions from this server and add these:</p>
          {r.types
            .filter((t) => t.newColumns.length > 0 || t.widenedColumns.length > 0)
            .map((t) => (
              <p key={t.resourceType}>
                {t.resourceType}: {[...t.newColumns.map((c) => `${c} (new)`), ...t.widenedColumns.map((c) => `${c} (wider type)`)].join(", ")}
              </p>
            ))}
        </div>
      )}
      {r.badLines > 0 && (
        <div className="notice notice-warn" data-testid="convert-bad-lines">
          <p>
            {formatCount(r.badLines)} {r.badLines === 1 ? "line was" : "lines were"} not a valid resource and{" "}
            {r.badLines === 1 ? "was" : "were"} left out. All are listed in <code>{r.badLinesFile}</code>. The first:
          </p>
          <ul>
            {r.badLineExamples.map((b) => (
              <li key={`${b.file}:${b.line}`}>
                <code>
                  {b.file.split(/[\\/]/).pop()}:{b.line}
                </code>{" "}
                {b.problem}
              </li>
            ))}
          </ul>
        </div>
      )}
      {r.warnings.map((w) => (
        <p key={w} className="notice notice-warn">
          {w}
        </p>
      ))}
      <div className="actions">
        <button
          type="button"
          className="primary"
          data-testid="convert-open-folder"
          onClick={() => commands.openParquetFolder(exportId).catch((e: unknown) => setOpenError(toCommandError(e)))}
        >
          <FolderOpen aria-hidden="true" size={16} /> Open folder
        </button>
        <button type="button" data-testid="convert-close" onClick={onClose}>
          Close
        </button>
      </div>
      {openError && <ErrorNotice error={openError} />}
    </section>
  );
}

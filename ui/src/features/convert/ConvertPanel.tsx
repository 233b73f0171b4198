import { useState } from "react";
import { FolderOpen } from "lucide-react";
import type { ConversionReport } from "../../ipc/bindings/ConversionReport";
import type { ConvertProgress } from "../../ipc/bindings/ConvertProgress";
import { commands, toCommandError, type CommandError } from "../../ipc/commands";
import { formatBytes, formatCount } from "../../format";
import { ErrorNotice } from "../shell/ErrorNotice";
import { RunningCard } from "../shell/RunningCard";
import { headline, progressText } from "./convert";

type Stage =
  | { kind: "running"; progress: ConvertProgress | null; cancelling: boolean }
  | { kind: "done"; report: ConversionReport }
  | { kind: "failed"; error: CommandError };

/** Converts one export to Parquet (History → Convert), with progress and, at the end, what came out. */
export function ConvertPanel({ exportId, onClose }: { exportId: number; onClose: () => void }) {
  const [stage, setStage] = useState<Stage | null>(null);
  const [openError, setOpenError] = useState<CommandError | null>(null);

  const start = () => {
    setStage({ kind: "running", progress: null, cancelling: false });
    commands
      .convertExport(exportId, null, (progress) =>
        setStage((s) => (s?.kind === "running" ? { ...s, progress } : s)),
      )
      .then((report) => setStage({ kind: "done", report }))
      .catch((e: unknown) => setStage({ kind: "failed", error: toCommandError(e) }));
  };

  if (stage === null) {
    return (
      <section className="card" data-testid="convert-panel">
        <h3>Convert to Parquet</h3>
        <p>
          One Parquet file per resource type, in the folder <code>parquet</code> inside this export. Every record is
          read to learn the exact columns; values that differ in kind are kept as JSON text and listed. Bad lines are
          left out and listed; nothing else is dropped.
        </p>
        <div className="actions">
          <button type="button" className="primary" data-testid="convert-start" onClick={start}>
            Convert
          </button>
          <button type="button" onClick={onClose}>
            Close
          </button>
        </div>
      </section>
    );
  }

  if (stage.kind === "running") {
    const p = stage.progress;
    return (
      <RunningCard
        testId="convert-panel"
        title="Converting to Parquet…"
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
        <h3>Convert to Parquet</h3>
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
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
      {openError && <ErrorNotice error={openError} />}
    </section>
  );
}

import { formatCount } from "../../format";
import { open as openDialog } from "@tauri-apps/plugin-dialog";
import { useEffect, useState } from "react";
import type { Format } from "../../ipc/bindings/Format";
import type { TablesProgress } from "../../ipc/bindings/TablesProgress";
import type { TablesSummary } from "../../ipc/bindings/TablesSummary";
import type { ViewChoice } from "../../ipc/bindings/ViewChoice";
import type { ViewInfo } from "../../ipc/bindings/ViewInfo";
import { commands, toCommandError, type CommandError } from "../../ipc/commands";
import { ErrorNotice } from "../shell/ErrorNotice";
import { RunningCard } from "../shell/RunningCard";
import { FORMAT_LABELS, fileName, headline, progressText } from "./tables";
import { ViewPreview } from "./ViewPreview";

type Stage =
  | { kind: "choose" }
  | { kind: "running"; progress: TablesProgress | null; cancelling: boolean }
  | { kind: "done"; summary: TablesSummary }
  | { kind: "failed"; error: CommandError };

const choiceOf = (v: ViewInfo): ViewChoice =>
  v.file ? { kind: "file", path: v.file } : { kind: "builtIn", name: v.name };

/** History → an export → "Make tables…": flat tables from SQL-on-FHIR views, as Excel, CSV or Parquet. */
export function TablesPanel({ exportId, onClose }: { exportId: number; onClose: () => void }) {
  const [views, setViews] = useState<ViewInfo[]>([]);
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [formats, setFormats] = useState<Set<Format>>(new Set<Format>(["xlsx", "csv"]));
  const [csvBom, setCsvBom] = useState(true);
  const [stage, setStage] = useState<Stage>({ kind: "choose" });
  const [error, setError] = useState<CommandError | null>(null);

  useEffect(() => {
    commands
      .listViews()
      .then(setViews)
      .catch((e: unknown) => setError(toCommandError(e)));
  }, []);

  const toggle = <T,>(set: Set<T>, item: T): Set<T> => {
    const next = new Set(set);
    if (next.has(item)) next.delete(item);
    else next.add(item);
    return next;
  };

  const addViewFiles = async () => {
    const picked = await openDialog({ multiple: true, title: "Your own ViewDefinition files", filters: [{ name: "ViewDefinition", extensions: ["json"] }] });
    const paths = picked === null ? [] : Array.isArray(picked) ? picked : [picked];
    for (const path of paths) {
      try {
        const info = await commands.readView(path);
        setViews((vs) => [...vs.filter((v) => v.name !== info.name), info]);
        setChosen((c) => new Set(c).add(info.name));
        setError(null);
      } catch (e: unknown) {
        setError(toCommandError(e));
      }
    }
  };

  const start = () => {
    const picked = views.filter((v) => chosen.has(v.name)).map(choiceOf);
    setStage({ kind: "running", progress: null, cancelling: false });
    commands
      .makeTables(exportId, picked, [...formats], csvBom, (progress) =>
        setStage((s) => (s.kind === "running" ? { ...s, progress } : s)),
      )
      .then((summary) => setStage({ kind: "done", summary }))
      .catch((e: unknown) => setStage({ kind: "failed", error: toCommandError(e) }));
  };

  if (stage.kind === "running") {
    const p = stage.progress;
    return (
      <RunningCard
        testId="tables-panel"
        title="Making tables…"
        progressTestId="tables-progress"
        max={p?.bytesTotal || 1}
        value={p?.bytesRead ?? 0}
        status={progressText(p)}
        cancelling={stage.cancelling}
        onStop={() => {
          setStage({ ...stage, cancelling: true });
          commands.cancelTables(exportId).catch(() => undefined);
        }}
      />
    );
  }

  if (stage.kind === "done") {
    const s = stage.summary;
    return (
      <section className="card" data-testid="tables-panel">
        <h3>Tables made</h3>
        <p className="notice notice-ok" role="status" data-testid="tables-headline">
          {headline(s.views)}
        </p>
        <p>
          Folder: <code data-testid="tables-folder">{s.outDir}</code>
        </p>
        <div className="table-scroll">
          <table className="files-table" data-testid="tables-report">
            <thead>
              <tr>
                <th>View</th>
                <th>Resource</th>
                <th className="num">Rows</th>
                <th className="num">Columns</th>
                <th>Files</th>
              </tr>
            </thead>
            <tbody>
              {s.views.map((v) => (
                <tr key={v.view}>
                  <td>{v.view}</td>
                  <td>{v.resource}</td>
                  <td className="num">{formatCount(v.rows)}</td>
                  <td className="num">{v.columns}</td>
                  <td>{v.failure ? "none: stopped" : v.files.map(fileName).join(", ")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {s.views.flatMap((v) =>
          v.notes.map((n) => (
            <p key={`${v.view}-${n}`} className="notice">
              {v.view}: {n}
            </p>
          )),
        )}
        {s.views
          .filter((v) => v.failure)
          .map((v) => (
            <p key={`fail-${v.view}`} className="notice notice-warn" data-testid={`tables-failure-${v.view}`}>
              {v.view} stopped: {v.failure?.message}
              {v.failure?.resourceId ? ` (resource ${v.failure.resourceId}, ${fileName(v.failure.file ?? "")} line ${v.failure.line ?? "?"})` : ""}
            </p>
          ))}
        <div className="actions">
          <button type="button" className="primary" data-testid="tables-open-folder" onClick={() => commands.openTablesFolder(exportId).catch((e: unknown) => setError(toCommandError(e)))}>
            Open folder
          </button>
          <button type="button" onClick={onClose}>
            Close
          </button>
        </div>
        {error && <ErrorNotice error={error} title="Could not open the folder" />}
      </section>
    );
  }

  return (
    <section className="card" data-testid="tables-panel">
      <h3>Make tables</h3>
      <p>
        Flat tables for Excel, BI tools and spreadsheets: one row per patient, condition, observation or claim line, made
        by <a href="https://sql-on-fhir.org/">SQL-on-FHIR</a> views. The files go to the folder <code>tables</code> inside
        this export; files of an earlier run are replaced only when the new ones are complete.
      </p>
      {stage.kind === "failed" && (
        <ErrorNotice error={stage.error} title={stage.error.code === "interrupted" ? "Stopped" : "Making tables failed"} />
      )}
      {error && <ErrorNotice error={error} title="That view file cannot be used" />}
      <fieldset className="field">
        <legend>Views</legend>
        <ul className="choices" data-testid="tables-views">
          {views.map((v) => (
            <li key={v.name}>
              <label>
                <input type="checkbox" data-testid={`view-${v.name}`} checked={chosen.has(v.name)} onChange={() => setChosen((c) => toggle(c, v.name))} />{" "}
                <strong>{v.title ?? v.name}</strong> <span className="muted">({v.resource}{v.file ? `, ${fileName(v.file)}` : ""})</span>
              </label>
              {v.description && <p className="muted">{v.description}</p>}
              <ViewPreview read={() => commands.previewView(exportId, choiceOf(v))} name={v.name} />
            </li>
          ))}
        </ul>
        <button type="button" data-testid="tables-add-file" onClick={() => void addViewFiles()}>
          Add your own view file…
        </button>
      </fieldset>
      <fieldset className="field">
        <legend>Formats</legend>
        {(Object.keys(FORMAT_LABELS) as Format[]).map((f) => (
          <label key={f}>
            <input type="checkbox" data-testid={`format-${f}`} checked={formats.has(f)} onChange={() => setFormats((s) => toggle(s, f))} />{" "}
            {FORMAT_LABELS[f]}
          </label>
        ))}
        {formats.has("csv") && (
          <label>
            <input type="checkbox" checked={csvBom} onChange={(e) => setCsvBom(e.target.checked)} /> CSV for Excel: start it with a
            UTF-8 mark so accents show correctly
          </label>
        )}
      </fieldset>
      <div className="actions">
        <button type="button" className="primary" data-testid="tables-start" disabled={chosen.size === 0 || formats.size === 0} onClick={start}>
          Make tables
        </button>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </section>
  );
}

import { useState } from "react";
import type { TablePreview } from "../../ipc/bindings/TablePreview";
import type { ViewChoice } from "../../ipc/bindings/ViewChoice";
import { commands, toCommandError, type CommandError } from "../../ipc/commands";
import { ErrorNotice } from "../shell/ErrorNotice";

type State = { kind: "loading" } | { kind: "shown"; preview: TablePreview } | { kind: "failed"; error: CommandError };

/** The first 20 rows a view makes of an export, before anything is written. */
export function ViewPreview({ exportId, view, name }: { exportId: number; view: ViewChoice; name: string }) {
  const [state, setState] = useState<State | null>(null);
  const load = () => {
    setState({ kind: "loading" });
    commands
      .previewView(exportId, view)
      .then((preview) => setState({ kind: "shown", preview }))
      .catch((e: unknown) => setState({ kind: "failed", error: toCommandError(e) }));
  };
  if (state === null) {
    return (
      <button type="button" className="link-button" data-testid={`preview-${name}`} onClick={load}>
        Preview
      </button>
    );
  }
  if (state.kind === "loading") return <p role="status">Reading the first rows…</p>;
  if (state.kind === "failed") return <ErrorNotice error={state.error} title="No preview" />;
  const p = state.preview;
  return (
    <div className="table-preview" data-testid={`preview-table-${name}`}>
      {p.rows.length === 0 && !p.failure && <p>This export has no rows for this view (no resources of its type).</p>}
      {p.rows.length > 0 && (
        <div className="table-scroll">
          <table className="totals">
            <thead>
              <tr>
                {p.columns.map((c) => (
                  <th key={c}>{c}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {p.rows.map((row, i) => (
                <tr key={i}>
                  {row.map((cell, j) => (
                    <td key={j}>{cell}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p className="muted">
        {p.more ? `The first ${p.rows.length} rows; there are more.` : `All ${p.rows.length} rows.`}
      </p>
      {p.failure && (
        <p className="notice notice-warn" data-testid={`preview-failure-${name}`}>
          This view stops on this export: {p.failure.message}
          {p.failure.resourceId ? ` (resource ${p.failure.resourceId}, line ${p.failure.line ?? "?"})` : ""}.
        </p>
      )}
    </div>
  );
}

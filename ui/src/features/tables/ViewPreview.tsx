import { useState } from "react";
import type { TablePreview } from "../../ipc/bindings/TablePreview";
import { toCommandError, type CommandError } from "../../ipc/commands";
import { ErrorNotice } from "../shell/ErrorNotice";
import { rowsNote } from "./tables";

type State = { kind: "loading" } | { kind: "shown"; preview: TablePreview } | { kind: "failed"; error: CommandError };

/** The first 20 rows a view makes (of an export, or of a folder on the Files page), before anything is written.
 * `read` asks for them. */
export function ViewPreview({ read, name }: { read: () => Promise<TablePreview>; name: string }) {
  const [state, setState] = useState<State | null>(null);
  const load = () => {
    setState({ kind: "loading" });
    read()
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
          <table className="files-table preview-cells">
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
        {rowsNote(p.rows.length, p.more)}
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

import { useEffect, useState } from "react";
import { commands, toCommandError, type CommandError, type ResourceText } from "../../ipc/commands";
import { ErrorNotice } from "../shell/ErrorNotice";
import { followable, parseJson, summary, type JsonNode } from "./json";
import { codingsOf } from "./codings";
import { copyText } from "../../design/clipboard";

export interface Target {
  resourceType: string;
  row: number;
}

/** One resource in full: its JSON as a tree that folds, with references that open what they point to. */
export function ResourceView({
  folder,
  target,
  onFollow,
  onBack,
  canGoBack,
}: {
  folder: string;
  target: Target;
  onFollow: (reference: string) => void;
  onBack: () => void;
  canGoBack: boolean;
}) {
  const [text, setText] = useState<ResourceText | null>(null);
  const [error, setError] = useState<CommandError | null>(null);

  useEffect(() => {
    let live = true;
    setText(null);
    setError(null);
    commands
      .browseResource(folder, target.resourceType, target.row)
      .then((t) => live && setText(t))
      .catch((e: unknown) => live && setError(toCommandError(e)));
    return () => {
      live = false;
    };
  }, [folder, target.resourceType, target.row]);

  let tree: JsonNode | null = null;
  let parseProblem: string | null = null;
  if (text) {
    try {
      tree = parseJson(text.text);
    } catch (e) {
      parseProblem = e instanceof Error ? e.message : String(e);
    }
  }
  const id = tree?.kind === "object" ? tree.entries.find(([k]) => k === "id")?.[1] : undefined;

  return (
    <section className="card resource-view" aria-label="Resource" data-testid="resource-view">
      <header className="resource-head">
        <div>
          <h2 data-testid="resource-title">
            {target.resourceType}
            {id?.kind === "string" ? <span className="muted"> / {id.value}</span> : null}
          </h2>
          {text && (
            <p className="muted small">
              {text.file}, line {text.line}
            </p>
          )}
        </div>
        <div className="actions">
          {canGoBack && (
            <button type="button" onClick={onBack} data-testid="resource-back">
              ← Back
            </button>
          )}
          {text && (
            <button type="button" onClick={() => void copyText(text.text)}>
              Copy JSON
            </button>
          )}
        </div>
      </header>
      {error && <ErrorNotice error={error} title="Haul could not read this resource" />}
      {text?.problem && (
        <div className="notice notice-warn" role="status">
          <p>{text.problem}</p>
        </div>
      )}
      {parseProblem && (
        <>
          <p className="error-text">This line is not valid JSON ({parseProblem}). It is shown as written:</p>
          <pre className="detail">{text?.text}</pre>
        </>
      )}
      {tree && <Codings tree={tree} />}
      {tree && (
        <div className="json-tree" data-testid="json-tree">
          <Entry name="" label={null} node={tree} depth={0} onFollow={onFollow} />
        </div>
      )}
    </section>
  );
}

/** The resource's codes at a glance: system, code and display of every coding, with where it sits. */
function Codings({ tree }: { tree: JsonNode }) {
  const rows = codingsOf(tree);
  if (rows.length === 0) return null;
  return (
    <details className="codings" open data-testid="codings">
      <summary>Codes ({rows.length})</summary>
      <div className="table-scroll">
        <table className="files-table">
          <thead>
            <tr>
              <th scope="col">Where</th>
              <th scope="col">System</th>
              <th scope="col">Code</th>
              <th scope="col">Display</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r, i) => (
              <tr key={i}>
                <td>
                  <code>{r.path}</code>
                </td>
                <td title={r.system}>{r.systemName ?? <code>{r.system}</code>}</td>
                <td>
                  <code>{r.code}</code>
                </td>
                <td>{r.display ?? <span className="muted">—</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}

/** One line of the tree: `"key": value`, or `"key": {` with its entries folded under it. */
function Entry({
  name,
  label,
  node,
  depth,
  onFollow,
}: {
  name: string;
  label: React.ReactNode;
  node: JsonNode;
  depth: number;
  onFollow: (r: string) => void;
}) {
  if (node.kind === "object" || node.kind === "array") {
    const entries: [string, JsonNode][] =
      node.kind === "object" ? node.entries : node.items.map((item, i) => [String(i), item]);
    const [open, close] = node.kind === "object" ? ["{", "}"] : ["[", "]"];
    if (entries.length === 0) {
      return (
        <>
          {label}
          <span className="json-punct">{open + close}</span>
        </>
      );
    }
    return (
      <details open={depth < 3} className="json-node">
        <summary>
          {label}
          <span className="json-punct">{open}</span>
          <span className="json-summary muted">
            {" … "}
            {close} {summary(node).slice(4)}
          </span>
        </summary>
        <ul className="json-entries">
          {entries.map(([key, child]) => (
            <li key={key}>
              <Entry
                name={key}
                label={
                  <>
                    <span className={node.kind === "object" ? "json-key" : "json-index"}>
                      {node.kind === "object" ? `"${key}"` : key}
                    </span>
                    <span className="json-punct">: </span>
                  </>
                }
                node={child}
                depth={depth + 1}
                onFollow={onFollow}
              />
            </li>
          ))}
        </ul>
        <span className="json-punct">{close}</span>
      </details>
    );
  }
  return (
    <>
      {label}
      <Leaf name={name} node={node} onFollow={onFollow} />
    </>
  );
}

function Leaf({ name, node, onFollow }: { name: string; node: JsonNode; onFollow: (r: string) => void }) {
  switch (node.kind) {
    case "string": {
      const reference = followable(name, node);
      if (reference) {
        return (
          <button
            type="button"
            className="link-button json-ref"
            data-testid="json-reference"
            title={`Open ${reference}`}
            onClick={() => onFollow(reference)}
          >
            "{node.value}"
          </button>
        );
      }
      return <span className="json-string">"{node.value}"</span>;
    }
    case "number":
      return <span className="json-number">{node.text}</span>;
    case "boolean":
      return <span className="json-literal">{String(node.value)}</span>;
    case "null":
      return <span className="json-literal">null</span>;
    default:
      return null;
  }
}

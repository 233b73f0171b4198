import { open as openDialog } from "@tauri-apps/plugin-dialog";
import { useCallback, useEffect, useState, type CSSProperties } from "react";
import { commands, toCommandError, type CommandError, type FolderOverview } from "../../ipc/commands";
import { ErrorNotice } from "../shell/ErrorNotice";
import { countOf, formatBytes, formatDateTime } from "../../format";
import { formatCount } from "./browse";
import { ChartsView } from "./ChartsView";
import { ResourceView, type Target } from "./ResourceView";
import { FolderViews } from "./FolderViews";
import { TypeTable } from "./TypeTable";
import { SplitHandle, useSplitWidth } from "../../design/SplitHandle";

/** The list of types' width in pixels: what it starts at, and how far the bar between the panes moves it. */
const NAV_WIDTH = { initial: 250, min: 160, max: 520 };

type View = { kind: "overview" } | { kind: "charts" } | { kind: "views" } | { kind: "type"; resourceType: string };

/** Look inside an export folder, or any folder of NDJSON: what it holds, a table per type, any resource. */
/** The export's parameters by what they mean; the parameter itself is the tooltip. */
const PARAMETER_NAMES: Record<string, string> = {
  _outputFormat: "Format",
  _type: "Types",
  _since: "Changed since",
  _until: "Changed up to",
  _elements: "Elements",
  _typeFilter: "Type filters",
  patient: "Patients",
  includeAssociatedData: "Associated data",
};

export function FilesPage({ initialFolder }: { initialFolder?: string | null }) {
  const [folder, setFolder] = useState<string | null>(initialFolder ?? null);
  const [overview, setOverview] = useState<FolderOverview | null>(null);
  const [error, setError] = useState<CommandError | null>(null);
  const [loading, setLoading] = useState(false);
  const [view, setView] = useState<View>({ kind: "overview" });
  // Resources opened, the last on top: Back returns to the one before, or to the table.
  const [opened, setOpened] = useState<Target[]>([]);
  const [followMessage, setFollowMessage] = useState<string | null>(null);
  const [typedPath, setTypedPath] = useState("");
  const split = useSplitWidth("files", NAV_WIDTH);

  const load = useCallback((path: string) => {
    setLoading(true);
    setError(null);
    setOverview(null);
    setOpened([]);
    setView({ kind: "overview" });
    commands
      .browseOpen(path)
      .then((o) => {
        setOverview(o);
        // Types the manifest does not count are counted by indexing them, one after the other.
        const pending = o.types.filter((t) => t.countSource === "pending").map((t) => t.resourceType);
        void (async () => {
          for (const t of pending) {
            try {
              await commands.browseIndex(path, t, () => {});
              const fresh = await commands.browseOpen(path);
              setOverview((cur) => (cur && cur.folder === fresh.folder ? fresh : cur));
            } catch {
              // The table of that type shows its own error when opened.
            }
          }
        })();
      })
      .catch((e: unknown) => setError(toCommandError(e)))
      .finally(() => setLoading(false));
  }, []);

  useEffect(() => {
    if (folder) load(folder);
  }, [folder, load]);

  const chooseFolder = async () => {
    const picked = await openDialog({ directory: true, multiple: false, title: "Open a folder of NDJSON files" });
    if (typeof picked === "string") setFolder(picked);
  };

  const follow = (reference: string) => {
    if (!folder) return;
    setFollowMessage(null);
    commands
      .browseLookup(folder, reference)
      .then((found) => {
        if (found) setOpened((o) => [...o, found]);
        else setFollowMessage(`${reference} is not in this folder.`);
      })
      .catch((e: unknown) => setFollowMessage(toCommandError(e).message));
  };

  const current = opened[opened.length - 1];
  return (
    <section className="page files-page" aria-labelledby="files-title">
      <header className="page-header">
        <div>
          <h1 id="files-title">Files</h1>
          {folder && (
            <p className="muted small" data-testid="files-folder">
              <code>{folder}</code>
            </p>
          )}
        </div>
        <div className="actions">
          <form
            className="input-with-button"
            onSubmit={(e) => {
              e.preventDefault();
              const path = typedPath.trim();
              if (!path) return;
              // The same path again opens it afresh (new files are found, changed ones indexed again).
              if (path === folder) load(path);
              else setFolder(path);
            }}
          >
            <label htmlFor="folder-path" className="visually-hidden">
              Folder path
            </label>
            <input
              id="folder-path"
              placeholder="or paste a folder path"
              value={typedPath}
              onChange={(e) => setTypedPath(e.target.value)}
              data-testid="folder-path"
            />
            <button type="submit" disabled={!typedPath.trim()} data-testid="open-path">
              Open
            </button>
          </form>
          <button type="button" className={folder ? undefined : "primary"} onClick={() => void chooseFolder()} data-testid="open-folder">
            Open folder…
          </button>
        </div>
      </header>
      {!folder && (
        <div className="empty">
          <p>
            Open an export from <strong>History</strong> (“Look inside”), or any folder of <code>.ndjson</code> or{" "}
            <code>.ndjson.gz</code> files, also from other tools, with <strong>Open folder…</strong>.
          </p>
        </div>
      )}
      {loading && <p className="muted">Opening…</p>}
      {error && <ErrorNotice error={error} title="Haul could not open this folder" />}
      {overview && folder && (
        <div className="files-split has-split-handle" style={{ "--split-first": `${split.width}px` } as CSSProperties}>
          <nav className="type-nav" aria-label="Resource types">
            <button
              type="button"
              className="nav-item"
              aria-current={view.kind === "overview" && !current ? "page" : undefined}
              onClick={() => {
                setOpened([]);
                setView({ kind: "overview" });
              }}
              data-testid="files-overview-tab"
            >
              Overview
            </button>
            <button
              type="button"
              className="nav-item"
              aria-current={view.kind === "charts" && !current ? "page" : undefined}
              onClick={() => {
                setOpened([]);
                setView({ kind: "charts" });
              }}
              data-testid="files-charts-tab"
            >
              Charts
            </button>
            <button
              type="button"
              className="nav-item"
              aria-current={view.kind === "views" && !current ? "page" : undefined}
              onClick={() => {
                setOpened([]);
                setView({ kind: "views" });
              }}
              data-testid="files-views-tab"
            >
              Flat views
            </button>
            <h2 className="type-nav-title">Types</h2>
            {overview.types.map((t) => (
              <button
                type="button"
                key={t.resourceType}
                className="nav-item"
                aria-current={view.kind === "type" && view.resourceType === t.resourceType && !current ? "page" : undefined}
                onClick={() => {
                  setOpened([]);
                  setView({ kind: "type", resourceType: t.resourceType });
                }}
                data-testid={`type-${t.resourceType}`}
              >
                <span>{t.resourceType}</span>
                <span className="muted small">{t.count === null ? "…" : formatCount(t.count)}</span>
              </button>
            ))}
          </nav>
          <SplitHandle {...split.handle} label="Width of the list of types" testId="files-split-handle" />
          <div className="files-main">
            {followMessage && (
              <div className="notice" role="status">
                <p>{followMessage}</p>
              </div>
            )}
            {current && (
              <ResourceView
                key={`${current.resourceType}/${current.row}/${opened.length}`}
                folder={folder}
                target={current}
                onFollow={follow}
                canGoBack
                onBack={() => {
                  setFollowMessage(null);
                  setOpened((o) => o.slice(0, -1));
                }}
              />
            )}
            {view.kind === "overview" && !current && <Overview overview={overview} onType={(t) => setView({ kind: "type", resourceType: t })} />}
            {view.kind === "charts" && !current && <ChartsView folder={folder} />}
            {view.kind === "views" && !current && (
              <FolderViews folder={folder} types={overview.types.map((t) => t.resourceType)} />
            )}
            {view.kind === "type" && (
              // Kept mounted under an open resource, so Back returns to the same place in the table.
              <div hidden={Boolean(current)}>
                <h2>{view.resourceType}</h2>
                <TypeTable
                  key={`${folder}/${view.resourceType}`}
                  folder={folder}
                  resourceType={view.resourceType}
                  onOpen={(row) => setOpened([{ resourceType: view.resourceType, row }])}
                />
              </div>
            )}
          </div>
        </div>
      )}
    </section>
  );
}

function Overview({ overview, onType }: { overview: FolderOverview; onType: (t: string) => void }) {
  const total = overview.types.reduce((s, t) => s + (t.count ?? 0), 0);
  const pending = overview.types.some((t) => t.count === null);
  return (
    <div className="card" data-testid="files-overview">
      <h2>What this folder holds</h2>
      <dl className="facts">
        <dt>Resources</dt>
        <dd data-testid="overview-total">
          {formatCount(total)}
          {pending ? " so far (counting the rest…)" : ""}
        </dd>
        <dt>Export time</dt>
        <dd title={overview.transactionTime ?? undefined}>
          {overview.transactionTime
            ? formatDateTime(overview.transactionTime)
            : overview.hasManifest
              ? "not recorded"
              : "no manifest.json in this folder"}
        </dd>
        {overview.parameters.map(([k, v]) => (
          <div key={k} className="facts-row">
            <dt title={k}>{PARAMETER_NAMES[k] ?? k}</dt>
            <dd>
              <code>{v}</code>
            </dd>
          </div>
        ))}
        {overview.request && (
          <>
            <dt>Request</dt>
            <dd>
              <code>{overview.request}</code>
            </dd>
          </>
        )}
      </dl>
      <table className="files-table">
        <caption>Resource types</caption>
        <thead>
          <tr>
            <th>Type</th>
            <th className="num">Resources</th>
            <th className="num">Size</th>
            <th>Files</th>
          </tr>
        </thead>
        <tbody>
          {overview.types.map((t) => (
            <tr key={t.resourceType}>
              <td>
                <button type="button" className="link-button" onClick={() => onType(t.resourceType)}>
                  {t.resourceType}
                </button>
              </td>
              <td className="num" title={t.countSource === "manifest" ? "From the manifest" : t.countSource === "counted" ? "Counted" : "Counting…"}>
                {t.count === null ? "counting…" : formatCount(t.count)}
              </td>
              <td className="num">
                {formatBytes(t.bytes)}
                {t.compressed ? " (gzip)" : ""}
              </td>
              <td className="muted small file-names">{t.files.length === 1 ? t.files[0] : countOf(t.files.length, "file")}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Problems</h2>
      {overview.problems.length === 0 ? (
        <p className="muted" data-testid="overview-no-problems">
          None: no error files, no set-aside lines.
        </p>
      ) : (
        <ul className="problem-list" data-testid="overview-problems">
          {overview.problems.map((p) => (
            <li key={p.file + p.kind}>
              <strong>{p.message}</strong>
              {p.samples.map((s, i) => (
                <div key={i} className="muted small">
                  <code>{s}</code>
                </div>
              ))}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

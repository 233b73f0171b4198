import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import { commands, toCommandError, type CommandError, type PreviewRow } from "../../ipc/commands";
import { ErrorNotice } from "../shell/ErrorNotice";
import { PAGE_SIZE, formatCount, pagesFor, percent, rowWindow, taskName } from "./browse";
import { MIN_COLUMN_PX, fitWidths, rowAsTsv, splitMatches } from "./tableColumns";
import { copyText } from "../../design/clipboard";
import { save as saveDialog } from "@tauri-apps/plugin-dialog";
import { KEY_STEP_PX, dragWidth } from "../../design/SplitHandle";

/** A cell's text with the find text marked. */
function Marked({ text, query }: { text: string; query: string }) {
  return (
    <>
      {splitMatches(text, query).map((p, i) => (p.match ? <mark key={i}>{p.text}</mark> : p.text))}
    </>
  );
}

const ROW_HEIGHT = 34;

interface FindState {
  query: string;
  task: string;
  running: boolean;
  matches: number;
  percent: number;
  capped: boolean;
  stopped: boolean;
}

/** One type's rows, virtualized: pages are read as they scroll into view, while the index is still building. */
export function TypeTable({
  folder,
  resourceType,
  onOpen,
}: {
  folder: string;
  resourceType: string;
  onOpen: (row: number) => void;
}) {
  const [generation, setGeneration] = useState(0);
  const [headings, setHeadings] = useState<string[]>([]);
  const [total, setTotal] = useState(0);
  const [complete, setComplete] = useState(false);
  const [indexed, setIndexed] = useState(0);
  const [error, setError] = useState<CommandError | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [, setVersion] = useState(0);
  const pages = useRef(new Map<number, PreviewRow[]>());
  const loading = useRef(new Set<number>());
  // Find: the matching rows (positions in the type's table) and the pages of them read so far.
  const [find, setFind] = useState<FindState | null>(null);
  const found = useRef<number[]>([]);
  const [foundCount, setFoundCount] = useState(0);
  const foundPages = useRef(new Map<number, PreviewRow[]>());
  const [query, setQuery] = useState("");
  const [idQuery, setIdQuery] = useState("");
  const [idMessage, setIdMessage] = useState<string | null>(null);
  const scroller = useRef<HTMLDivElement>(null);
  const head = useRef<HTMLDivElement>(null);
  // Column widths in pixels (the line column first): fitted to the first page, then dragged by the user.
  const [widths, setWidths] = useState<number[] | null>(null);
  const [copyMenu, setCopyMenu] = useState<{ x: number; y: number; cell: string; row: string } | null>(null);
  const [copied, setCopied] = useState<string | null>(null);

  const refresh = () => setVersion((v) => v + 1);

  const onError = useCallback((e: unknown) => {
    const err = toCommandError(e);
    if (err.code === "file_changed") {
      setNotice(err.message);
      setGeneration((g) => g + 1);
    } else {
      setError(err);
    }
  }, []);

  // Open the type: the first page at once, the index in the background.
  useEffect(() => {
    let live = true;
    pages.current = new Map();
    loading.current = new Set();
    setError(null);
    setTotal(0);
    setComplete(false);
    setFind(null);
    found.current = [];
    setFoundCount(0);
    commands
      .browsePage(folder, resourceType, 0, PAGE_SIZE)
      .then((p) => {
        if (!live) return;
        setHeadings(p.headings);
        setWidths([80, ...fitWidths(p.headings, p.rows.slice(0, 50).map((r) => [r.id ?? "", ...r.cells]))]);
        setTotal((t) => Math.max(t, p.totalRows));
        if (p.rows.length === PAGE_SIZE || p.complete) pages.current.set(0, p.rows);
        refresh();
      })
      .catch((e: unknown) => live && onError(e));
    commands
      .browseIndex(folder, resourceType, (p) => {
        if (!live) return;
        setTotal((t) => Math.max(t, p.rows));
        setIndexed(percent(p.bytesRead, p.bytes));
      })
      .then((p) => {
        if (!live) return;
        setTotal(p.rows);
        setComplete(true);
        setIndexed(100);
      })
      .catch((e: unknown) => live && onError(e));
    // Another caller (the overview's counting) may be building this index: its progress does not come here,
    // so the readable row count is asked for until the index is complete.
    const poll = setInterval(() => {
      commands
        .browsePage(folder, resourceType, 0, 0)
        .then((p) => {
          if (!live) return;
          setTotal((t) => Math.max(t, p.totalRows));
          if (p.complete) clearInterval(poll);
        })
        .catch(() => clearInterval(poll));
    }, 500);
    return () => {
      live = false;
      clearInterval(poll);
    };
  }, [folder, resourceType, generation, onError]);

  const showingFound = find !== null;
  const count = showingFound ? foundCount : total;
  // Our own windowing rather than a list library's: a million-row file is taller than a browser lets an
  // element be, so the scroll range is scaled past MAX_SCROLL_PX (see rowWindow).
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(600);
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const measure = () => setViewport(el.clientHeight || 600);
    measure();
    if (typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  const win = rowWindow(count, ROW_HEIGHT, viewport, scrollTop);
  const { first, last } = win;
  const items: number[] = [];
  for (let i = first; i <= last; i++) items.push(i);

  // Read the pages that are in view and not read yet.
  useEffect(() => {
    const store = showingFound ? foundPages.current : pages.current;
    for (const p of pagesFor(first, Math.min(last, count - 1))) {
      const key = showingFound ? -1 - p : p;
      if (store.has(p) || loading.current.has(key)) continue;
      loading.current.add(key);
      const read = showingFound
        ? commands.browseRows(folder, resourceType, found.current.slice(p * PAGE_SIZE, (p + 1) * PAGE_SIZE))
        : commands.browsePage(folder, resourceType, p * PAGE_SIZE, PAGE_SIZE).then((page) => {
            setTotal((t) => Math.max(t, page.totalRows));
            return page.complete || page.rows.length === PAGE_SIZE ? page.rows : null;
          });
      read
        .then((rows) => {
          if (rows) store.set(p, rows);
          refresh();
        })
        .catch(onError)
        .finally(() => loading.current.delete(key));
    }
  }, [first, last, count, showingFound, folder, resourceType, onError, total]);

  const rowAt = (index: number): PreviewRow | undefined =>
    (showingFound ? foundPages.current : pages.current).get(Math.floor(index / PAGE_SIZE))?.[index % PAGE_SIZE];

  const startFind = (e: React.FormEvent) => {
    e.preventDefault();
    const text = query.trim();
    if (!text || find?.running) return;
    const task = taskName("find");
    found.current = [];
    foundPages.current = new Map();
    setFoundCount(0);
    setFind({ query: text, task, running: true, matches: 0, percent: 0, capped: false, stopped: false });
    if (scroller.current) scroller.current.scrollTop = 0;
    setScrollTop(0);
    commands
      .browseFind(folder, resourceType, text, task, (b) => {
        if (b.rows.length) {
          found.current = found.current.concat(b.rows);
          setFoundCount(found.current.length);
        }
        setFind((f) => f && f.task === task ? { ...f, matches: b.matches, percent: percent(b.bytesSearched, b.bytes) } : f);
      })
      .then((s) =>
        setFind((f) =>
          f && f.task === task
            ? { ...f, running: false, matches: s.matches, capped: s.capped, stopped: s.stopped, percent: s.stopped ? f.percent : 100 }
            : f,
        ),
      )
      .catch((err: unknown) => {
        setFind((f) => (f && f.task === task ? { ...f, running: false } : f));
        onError(err);
      });
  };

  const openId = (e: React.FormEvent) => {
    e.preventDefault();
    const id = idQuery.trim();
    if (!id) return;
    setIdMessage("Looking…");
    commands
      .browseFindId(folder, resourceType, id)
      .then((row) => {
        if (row === null) setIdMessage(`There is no ${resourceType} with id “${id}” in this folder.`);
        else {
          setIdMessage(null);
          onOpen(row);
        }
      })
      .catch((err: unknown) => {
        setIdMessage(null);
        onError(err);
      });
  };

  const columns = widths
    ? widths.map((w) => `${w}px`).join(" ")
    : `5.5rem repeat(${Math.max(headings.length, 1)}, minmax(7rem, 1fr))`;
  const tableWidth = widths ? widths.reduce((a, b) => a + b, 0) + 12 * widths.length + 24 : undefined;
  const marked = find?.query ?? "";
  // Dragging a heading's right edge: the column follows the pointer; at least MIN_COLUMN_PX wide.
  const startResize = (col: number) => (e: React.PointerEvent) => {
    if (!widths) return;
    e.preventDefault();
    e.stopPropagation();
    const startX = e.clientX;
    const start = widths[col] ?? MIN_COLUMN_PX;
    const move = (m: PointerEvent) =>
      setWidths((w) => w && w.map((v, i) => (i === col ? dragWidth(start, startX, m.clientX, MIN_COLUMN_PX, Infinity) : v)));
    const up = () => {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
    };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
  };
  // The keyboard resizes too: arrow keys on a focused handle.
  const keyResize = (col: number) => (e: React.KeyboardEvent) => {
    if (!widths || (e.key !== "ArrowLeft" && e.key !== "ArrowRight")) return;
    e.preventDefault();
    const step = e.key === "ArrowRight" ? KEY_STEP_PX : -KEY_STEP_PX;
    setWidths((w) => w && w.map((v, i) => (i === col ? Math.max(MIN_COLUMN_PX, v + step) : v)));
  };
  const copy = (text: string, what: string) => {
    setCopyMenu(null);
    void copyText(text).then((ok) => setCopied(ok ? `${what} copied.` : "The clipboard refused the text."));
  };
  // Save as CSV: a Find's rows (all it listed), or else the rows in view.
  const saveCsv = async () => {
    const rows = showingFound ? found.current.slice() : items.filter((i) => i < count && rowAt(i)).map((i) => rowAt(i)!.row);
    if (rows.length === 0) return;
    const path = await saveDialog({
      defaultPath: `${resourceType}${showingFound ? "-found" : ""}.csv`,
      filters: [{ name: "CSV", extensions: ["csv"] }],
    });
    if (!path) return;
    commands
      .browseSaveCsv(folder, resourceType, rows, path)
      .then((n) => setCopied(`${formatCount(n)} ${n === 1 ? "row" : "rows"} saved to ${path}.`))
      .catch(onError);
  };
  const rowText = (row: PreviewRow) => rowAsTsv([String(row.line), row.id ?? "", ...row.cells]);
  return (
    <section className="type-table" aria-label={`${resourceType} rows`}>
      <div className="table-tools">
        <form className="input-with-button" onSubmit={startFind} role="search">
          <label htmlFor="find-text" className="visually-hidden">
            Find text in {resourceType}
          </label>
          <input
            id="find-text"
            type="search"
            placeholder={`Find text in ${resourceType}`}
            value={query}
            onChange={(e) => setQuery(e.target.value)}
            data-testid="find-text"
          />
          <button type="submit" disabled={!query.trim() || find?.running} data-testid="find-start">
            Find
          </button>
          {find?.running && (
            <button type="button" onClick={() => void commands.browseStop(find.task)} data-testid="find-stop">
              Stop
            </button>
          )}
          {find && !find.running && (
            <button type="button" onClick={() => setFind(null)} data-testid="find-clear">
              Show all rows
            </button>
          )}
        </form>
        <button
          type="button"
          data-testid="save-csv"
          onClick={() => void saveCsv()}
          title={showingFound ? "Save the rows found as a CSV file" : "Save the rows in view as a CSV file"}
        >
          {showingFound ? "Save found rows as CSV…" : "Save rows in view as CSV…"}
        </button>
        <form className="input-with-button id-form" onSubmit={openId}>
          <label htmlFor="find-id" className="visually-hidden">
            Open a {resourceType} by id
          </label>
          <input
            id="find-id"
            placeholder="Open by id"
            value={idQuery}
            onChange={(e) => setIdQuery(e.target.value)}
            data-testid="find-id"
          />
          <button type="submit" disabled={!idQuery.trim()} data-testid="open-id">
            Open
          </button>
        </form>
      </div>
      <p className="status-line muted" role="status" data-testid="table-status">
        {find
          ? `${formatCount(find.matches)} ${find.matches === 1 ? "row contains" : "rows contain"} “${find.query}”` +
            (find.running ? ` — searching, ${find.percent}%` : find.stopped ? " (stopped)" : "") +
            (find.capped ? ` — the first ${formatCount(foundCount)} are listed` : "")
          : complete
            ? `${formatCount(total)} rows, in the order of the files (by line)`
            : `${formatCount(total)} rows so far — indexing, ${indexed}%`}
        {copied && <span className="copied"> · {copied}</span>}
      </p>
      {idMessage && <p className="muted">{idMessage}</p>}
      {notice && (
        <div className="notice notice-warn" role="status">
          <p>{notice}</p>
        </div>
      )}
      {error && <ErrorNotice error={error} title={`Haul could not read the ${resourceType} files`} />}
      <div className="data-table" role="table" aria-rowcount={count + 1}>
        <div className="data-head-scroll" ref={head}>
          <div className="data-row data-head" role="row" style={{ gridTemplateColumns: columns, width: tableWidth }}>
            {["Line", ...headings].map((h, i) => (
              <span role="columnheader" key={h} className="resizable">
                {h}
                {widths && (
                  <span
                    className="col-resize"
                    role="separator"
                    aria-orientation="vertical"
                    aria-label={`Width of ${h}`}
                    aria-valuenow={widths[i]}
                    aria-valuemin={MIN_COLUMN_PX}
                    tabIndex={0}
                    onPointerDown={startResize(i)}
                    onKeyDown={keyResize(i)}
                  />
                )}
              </span>
            ))}
          </div>
        </div>
        <div
          className="data-body"
          ref={scroller}
          data-testid="data-body"
          onScroll={(e) => {
            setScrollTop(e.currentTarget.scrollTop);
            if (head.current) head.current.scrollLeft = e.currentTarget.scrollLeft;
          }}
        >
          <div style={{ height: win.total, position: "relative", width: tableWidth }}>
            {items.map((index) => {
              const row = rowAt(index);
              return (
                <div
                  key={index}
                  role="row"
                  aria-rowindex={index + 2}
                  className={"data-row" + (row?.problem ? " data-row-problem" : "")}
                  style={{ gridTemplateColumns: columns, height: ROW_HEIGHT, transform: `translateY(${win.top(index)}px)` }}
                  data-testid="data-row"
                  data-line={row?.line}
                  tabIndex={row ? 0 : -1}
                  onClick={() => row && onOpen(row.row)}
                  onKeyDown={(e) => {
                    if (row && (e.key === "Enter" || e.key === " ")) {
                      e.preventDefault();
                      onOpen(row.row);
                    }
                    // Ctrl+C (⌘C) on a focused row copies it, tab-separated, as spreadsheets paste it.
                    if (row && (e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "c") {
                      e.preventDefault();
                      copy(rowText(row), "Row");
                    }
                  }}
                  onContextMenu={(e) => {
                    if (!row) return;
                    e.preventDefault();
                    const cell = (e.target as HTMLElement).closest("[role=cell]")?.textContent ?? "";
                    setCopyMenu({ x: e.clientX, y: e.clientY, cell, row: rowText(row) });
                  }}
                >
                  {row ? (
                    <>
                      <span role="cell" className="num" title={row.file}>
                        {formatCount(row.line)}
                      </span>
                      <span role="cell" title={row.id ?? ""}>
                        <Marked text={row.id ?? ""} query={marked} />
                      </span>
                      {row.problem ? (
                        <span role="cell" className="error-text problem-cell" title={row.problem}>
                          ⚠ {row.problem}
                        </span>
                      ) : (
                        row.cells.map((c, i) => (
                          <span role="cell" key={i} title={c}>
                            <Marked text={c} query={marked} />
                          </span>
                        ))
                      )}
                    </>
                  ) : (
                    <span role="cell" className="muted">
                      …
                    </span>
                  )}
                </div>
              );
            })}
          </div>
        </div>
      </div>
      {copyMenu && (
        <div
          className="menu context-menu"
          role="menu"
          aria-label="Copy"
          style={{ left: copyMenu.x, top: copyMenu.y }}
          onKeyDown={(e) => e.key === "Escape" && setCopyMenu(null)}
          ref={(el) => el?.querySelector<HTMLButtonElement>("[role=menuitem]")?.focus()}
          onBlur={(e) => !e.currentTarget.contains(e.relatedTarget as Node) && setCopyMenu(null)}
        >
          <button type="button" role="menuitem" className="menu-item" data-testid="copy-cell" onClick={() => copy(copyMenu.cell, "Cell")}>
            Copy cell
          </button>
          <button type="button" role="menuitem" className="menu-item" data-testid="copy-row" onClick={() => copy(copyMenu.row, "Row")}>
            Copy row
          </button>
        </div>
      )}
    </section>
  );
}

import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import { commands, toCommandError, type CommandError, type PreviewRow } from "../../ipc/commands";
import { ErrorNotice } from "../shell/ErrorNotice";
import { PAGE_SIZE, formatCount, pagesFor, percent, rowWindow, taskName } from "./browse";

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

  const columns = `5.5rem repeat(${Math.max(headings.length, 1)}, minmax(7rem, 1fr))`;
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
            ? `${formatCount(total)} rows`
            : `${formatCount(total)} rows so far — indexing, ${indexed}%`}
      </p>
      {idMessage && <p className="muted">{idMessage}</p>}
      {notice && (
        <div className="notice notice-warn" role="status">
          <p>{notice}</p>
        </div>
      )}
      {error && <ErrorNotice error={error} title={`Haul could not read the ${resourceType} files`} />}
      <div className="data-table" role="table" aria-rowcount={count + 1}>
        <div className="data-row data-head" role="row" style={{ gridTemplateColumns: columns }}>
          <span role="columnheader">Line</span>
          {headings.map((h) => (
            <span role="columnheader" key={h}>
              {h}
            </span>
          ))}
        </div>
        <div
          className="data-body"
          ref={scroller}
          data-testid="data-body"
          onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
        >
          <div style={{ height: win.total, position: "relative" }}>
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
                  }}
                >
                  {row ? (
                    <>
                      <span role="cell" className="num" title={row.file}>
                        {formatCount(row.line)}
                      </span>
                      <span role="cell" title={row.id ?? ""}>
                        {row.id ?? ""}
                      </span>
                      {row.problem ? (
                        <span role="cell" className="error-text problem-cell" title={row.problem}>
                          ⚠ {row.problem}
                        </span>
                      ) : (
                        row.cells.map((c, i) => (
                          <span role="cell" key={i} title={c}>
                            {c}
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
    </section>
  );
}

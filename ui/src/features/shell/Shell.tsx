import { useEffect, useState } from "react";
import { commands } from "../../ipc/commands";
import logo from "../../../../icons/haul.svg";
import { ExportPage } from "../exports/ExportPage";
import { GroupsPage, type GroupChoice } from "../groups/GroupsPage";
import { KeysPage } from "../keys/KeysPage";
import { HistoryPage } from "../history/HistoryPage";
import { ServersPage } from "../servers/ServersPage";
import { ComingSoon } from "./ComingSoon";

type Page = "servers" | "keys" | "groups" | "export" | "history" | "files";

const PAGES: { id: Page; label: string; ready: boolean }[] = [
  { id: "servers", label: "Servers", ready: true },
  { id: "keys", label: "Keys", ready: true },
  { id: "groups", label: "Groups", ready: true },
  { id: "export", label: "Export", ready: true },
  { id: "history", label: "History", ready: true },
  { id: "files", label: "Files", ready: false },
];

const COMING: Record<Exclude<Page, "servers" | "keys" | "groups" | "export" | "history">, string> = {
  files: "Look inside an export: counts per resource type, a table per type, any resource in full, and conversion to Parquet.",
};

export function Shell() {
  const [page, setPage] = useState<Page>("servers");
  const [interrupted, setInterrupted] = useState(0);
  // A group chosen on the Groups page, handed to a fresh Export page.
  const [exportChoice, setExportChoice] = useState<{ choice: GroupChoice; n: number } | null>(null);

  // Exports a closed window or a crash left half-way are offered at start.
  useEffect(() => {
    commands
      .listExports(1000)
      .then((rows) =>
        setInterrupted(
          rows.filter((r) => !r.running && ["created", "kicked_off", "downloading"].includes(r.job.state)).length,
        ),
      )
      .catch(() => setInterrupted(0));
  }, []);
  return (
    <div className="shell">
      <nav className="sidebar" aria-label="Main">
        <div className="brand">
          <img src={logo} alt="" width={28} height={28} />
          <span>Haul</span>
        </div>
        <ul>
          {PAGES.map((p) => (
            <li key={p.id}>
              <button
                type="button"
                className="nav-item"
                aria-current={page === p.id ? "page" : undefined}
                data-testid={`nav-${p.id}`}
                onClick={() => setPage(p.id)}
              >
                {p.label}
                {!p.ready && <span className="badge">soon</span>}
              </button>
            </li>
          ))}
        </ul>
      </nav>
      <main className="content">
        {interrupted > 0 && page !== "history" && (
          <div className="notice notice-warn banner" role="status" data-testid="interrupted-banner">
            <p>
              {interrupted === 1 ? "An export was" : `${interrupted} exports were`} interrupted before it finished. Haul
              can carry on where it stopped.
            </p>
            <button type="button" onClick={() => setPage("history")}>
              Show in History
            </button>
          </div>
        )}
        {page === "servers" ? (
          <ServersPage />
        ) : page === "keys" ? (
          <KeysPage />
        ) : page === "groups" ? (
          <GroupsPage
            onExport={(choice) => {
              setExportChoice((c) => ({ choice, n: (c?.n ?? 0) + 1 }));
              setPage("export");
            }}
          />
        ) : page === "export" ? (
          <ExportPage key={exportChoice?.n ?? 0} initial={exportChoice?.choice} />
        ) : page === "history" ? (
          <HistoryPage />
        ) : (
          <ComingSoon title={PAGES.find((p) => p.id === page)?.label ?? ""} description={COMING[page]} />
        )}
      </main>
    </div>
  );
}

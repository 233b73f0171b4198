import { useEffect, useState } from "react";
import { commands } from "../../ipc/commands";
import { isInterrupted } from "../exports/jobState";
import logo from "../../../../icons/haul.svg";
import { ExportPage } from "../exports/ExportPage";
import { GroupsPage, type GroupChoice } from "../groups/GroupsPage";
import { KeysPage } from "../keys/KeysPage";
import { HistoryPage } from "../history/HistoryPage";
import { ServersPage } from "../servers/ServersPage";
import { FilesPage } from "../files/FilesPage";

type Page = "servers" | "keys" | "groups" | "export" | "history" | "files";

const PAGES: { id: Page; label: string }[] = [
  { id: "servers", label: "Servers" },
  { id: "keys", label: "Keys" },
  { id: "groups", label: "Groups" },
  { id: "export", label: "Export" },
  { id: "history", label: "History" },
  { id: "files", label: "Files" },
];

export function Shell() {
  const [page, setPage] = useState<Page>("servers");
  const [interrupted, setInterrupted] = useState(0);
  // A group chosen on the Groups page, handed to a fresh Export page.
  const [exportChoice, setExportChoice] = useState<{ choice: GroupChoice; n: number } | null>(null);
  // A folder handed from History to the Files page.
  const [browse, setBrowse] = useState<{ folder: string; n: number } | null>(null);

  // Exports a closed window or a crash left half-way are offered; counted again on every page change, so the
  // banner goes once they were resumed or cancelled.
  useEffect(() => {
    commands
      .listExports(1000)
      .then((rows) => setInterrupted(rows.filter(isInterrupted).length))
      .catch(() => setInterrupted(0));
  }, [page]);
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
          <HistoryPage
            onBrowse={(folder) => {
              setBrowse((b) => ({ folder, n: (b?.n ?? 0) + 1 }));
              setPage("files");
            }}
          />
        ) : (
          <FilesPage key={browse?.n ?? 0} initialFolder={browse?.folder} />
        )}
      </main>
    </div>
  );
}

import { useEffect, useState } from "react";
import { Cloud, Download, FolderSearch, History, House, KeyRound, Server, Users, type LucideIcon } from "lucide-react";
import { commands } from "../../ipc/commands";
import { isInterrupted } from "../exports/jobState";
import logo from "../../../../icons/haul.svg";
import { ExportPage } from "../exports/ExportPage";
import { formFromJob, type ExportForm } from "../exports/request";
import { GroupsPage } from "../groups/GroupsPage";
import { HomePage } from "../home/HomePage";
import { KeysPage } from "../keys/KeysPage";
import { HistoryPage } from "../history/HistoryPage";
import { ServersPage } from "../servers/ServersPage";
import { FilesPage } from "../files/FilesPage";
import { StoragePage } from "../storage/StoragePage";

type Page = "home" | "servers" | "keys" | "storage" | "groups" | "export" | "history" | "files";

const PAGES: { id: Page; label: string; icon: LucideIcon }[] = [
  { id: "home", label: "Home", icon: House },
  { id: "export", label: "Export", icon: Download },
  { id: "history", label: "History", icon: History },
  { id: "files", label: "Files", icon: FolderSearch },
  { id: "groups", label: "Groups", icon: Users },
  { id: "servers", label: "Servers", icon: Server },
  { id: "keys", label: "Keys", icon: KeyRound },
  { id: "storage", label: "Storage", icon: Cloud },
];

export function Shell() {
  const [page, setPage] = useState<Page>("home");
  const [interrupted, setInterrupted] = useState(0);
  // A form handed to a fresh Export page: a group chosen on the Groups page, an export to run again.
  const [exportForm, setExportForm] = useState<{ form: Partial<ExportForm>; n: number } | null>(null);
  // A folder handed from History to the Files page.
  const [browse, setBrowse] = useState<{ folder: string; n: number } | null>(null);
  // An export to show first on the History page.
  const [historyAt, setHistoryAt] = useState<{ id: number; n: number } | null>(null);

  // Exports a closed window or a crash left half-way are offered; counted again on every page change, so the
  // banner goes once they were resumed or cancelled.
  useEffect(() => {
    commands
      .listExports(1000)
      .then((rows) => setInterrupted(rows.filter(isInterrupted).length))
      .catch(() => setInterrupted(0));
  }, [page]);
  const exportWith = (form: Partial<ExportForm>) => {
    setExportForm((c) => ({ form, n: (c?.n ?? 0) + 1 }));
    setPage("export");
  };
  const browseFolder = (folder: string) => {
    setBrowse((b) => ({ folder, n: (b?.n ?? 0) + 1 }));
    setPage("files");
  };
  const go = (p: Page) => {
    // The nav opens a page as it is, not the export a link chose last time.
    if (p === "history") setHistoryAt(null);
    setPage(p);
  };
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
                onClick={() => go(p.id)}
              >
                <span className="nav-label">
                  <p.icon aria-hidden="true" size={17} />
                  {p.label}
                </span>
              </button>
            </li>
          ))}
        </ul>
      </nav>
      <main className="content">
        {interrupted > 0 && page !== "history" && page !== "home" && (
          <div className="notice notice-warn banner" role="status" data-testid="interrupted-banner">
            <p>
              {interrupted === 1 ? "An export was" : `${interrupted} exports were`} interrupted before it finished. Haul
              can carry on where it stopped.
            </p>
            <button type="button" onClick={() => go("history")}>
              Show in History
            </button>
          </div>
        )}
        {page === "home" ? (
          <HomePage
            onExport={exportWith}
            onShowExport={(id) => {
              setHistoryAt((h) => ({ id, n: (h?.n ?? 0) + 1 }));
              setPage("history");
            }}
            onAddServer={() => setPage("servers")}
          />
        ) : page === "servers" ? (
          <ServersPage />
        ) : page === "keys" ? (
          <KeysPage />
        ) : page === "storage" ? (
          <StoragePage />
        ) : page === "groups" ? (
          <GroupsPage
            onExport={(choice) =>
              exportWith({ serverId: choice.serverId, level: "group", groupId: choice.groupId, groupName: choice.name ?? "" })
            }
          />
        ) : page === "export" ? (
          <ExportPage key={exportForm?.n ?? 0} initial={exportForm?.form} onBrowse={browseFolder} />
        ) : page === "history" ? (
          <HistoryPage
            key={historyAt?.n ?? 0}
            initialSelected={historyAt?.id}
            onBrowse={browseFolder}
            onRunAgain={(job) => exportWith(formFromJob(job))}
          />
        ) : (
          <FilesPage key={browse?.n ?? 0} initialFolder={browse?.folder} />
        )}
      </main>
    </div>
  );
}

import { useState } from "react";
import logo from "../../../../icons/haul.svg";
import { ServersPage } from "../servers/ServersPage";
import { ComingSoon } from "./ComingSoon";

type Page = "servers" | "keys" | "groups" | "export" | "history" | "files";

const PAGES: { id: Page; label: string; ready: boolean }[] = [
  { id: "servers", label: "Servers", ready: true },
  { id: "keys", label: "Keys", ready: false },
  { id: "groups", label: "Groups", ready: false },
  { id: "export", label: "Export", ready: false },
  { id: "history", label: "History", ready: false },
  { id: "files", label: "Files", ready: false },
];

const COMING: Record<Exclude<Page, "servers">, string> = {
  keys: "Create or import the key pairs Haul signs in with (SMART Backend Services). Private keys will be kept in your system keychain, never in a file.",
  groups: "Browse and search a server's Groups (rosters such as an ACO's attributed patients), pin the ones you export often.",
  export: "Build an export: everything, all patients or one group; pick resource types, a start date, filters and a folder, then watch it download.",
  history: "Every export you ran, with counts per type, size and status; open the folder, run it again, or fetch only what changed since.",
  files: "Look inside an export: counts per resource type, a table per type, any resource in full, and conversion to Parquet.",
};

export function Shell() {
  const [page, setPage] = useState<Page>("servers");
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
        {page === "servers" ? (
          <ServersPage />
        ) : (
          <ComingSoon title={PAGES.find((p) => p.id === page)?.label ?? ""} description={COMING[page]} />
        )}
      </main>
    </div>
  );
}

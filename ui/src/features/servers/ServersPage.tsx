import { useCallback, useEffect, useRef, useState } from "react";
import { commands, toCommandError, type CommandError, type Server } from "../../ipc/commands";
import { ErrorNotice } from "../shell/ErrorNotice";
import { ConnectionProbe } from "./ConnectionProbe";
import { ServerForm } from "./ServerForm";
import { SIGN_IN_LABELS } from "./validation";

type Selection = { kind: "none" } | { kind: "new" } | { kind: "edit"; id: number };

export function ServersPage() {
  const [servers, setServers] = useState<Server[] | null>(null);
  const [loadError, setLoadError] = useState<CommandError | null>(null);
  const [selection, setSelection] = useState<Selection>({ kind: "none" });
  const [flash, setFlash] = useState<string | null>(null);
  const flashRef = useRef<HTMLParagraphElement>(null);
  // The notice is at the top of the page, the Save and Remove buttons at the foot of a long form: show it.
  useEffect(() => {
    if (flash) flashRef.current?.scrollIntoView?.({ block: "nearest" });
  }, [flash]);

  const reload = useCallback(async () => {
    try {
      setServers(await commands.listServers());
      setLoadError(null);
    } catch (e) {
      setLoadError(toCommandError(e));
    }
  }, []);

  useEffect(() => {
    void reload();
  }, [reload]);

  const selected = selection.kind === "edit" ? servers?.find((s) => s.id === selection.id) : undefined;
  const otherNames = (servers ?? []).filter((s) => s.id !== selected?.id).map((s) => s.name);

  return (
    <section className="page servers-page" aria-labelledby="servers-title">
      <header className="page-header">
        <h1 id="servers-title">Servers</h1>
        <button
          type="button"
          className="primary"
          data-testid="add-server"
          onClick={() => {
            setFlash(null);
            setSelection({ kind: "new" });
          }}
        >
          Add server
        </button>
      </header>
      {flash && (
        <p ref={flashRef} className="notice notice-ok" role="status" data-testid="flash">
          {flash}
        </p>
      )}
      {loadError && <ErrorNotice error={loadError} title="Could not load your servers" />}
      <div className="split">
        <div className="list-pane">
          {servers === null ? (
            <p className="muted">Loading…</p>
          ) : servers.length === 0 ? (
            <div className="empty" data-testid="no-servers">
              <p>No servers yet.</p>
              <p className="muted">Add the FHIR server you export from: its name and its FHIR base URL are enough to start.</p>
            </div>
          ) : (
            <ul className="server-list" aria-label="Saved servers" data-testid="server-list">
              {servers.map((s) => (
                <li key={s.id}>
                  <button
                    type="button"
                    className="server-item"
                    aria-current={selected?.id === s.id ? "true" : undefined}
                    data-testid="server-item"
                    onClick={() => {
                      setFlash(null);
                      setSelection({ kind: "edit", id: s.id });
                    }}
                  >
                    <span className="server-name">
                      {s.name}
                      {s.builtin && <span className="badge builtin">built in</span>}
                    </span>
                    <span className="server-url">{s.baseUrl}</span>
                    <span className="server-auth">
                      {SIGN_IN_LABELS[s.auth]}
                    </span>
                  </button>
                </li>
              ))}
            </ul>
          )}
        </div>
        <div className="detail-pane">
          {selection.kind === "new" && (
            <ServerForm
              key="new"
              otherNames={otherNames}
              onSaved={async (server) => {
                await reload();
                setSelection({ kind: "edit", id: server.id });
                setFlash(`Saved “${server.name}”.`);
              }}
              onCancel={() => setSelection({ kind: "none" })}
            />
          )}
          {selected && (
            <ServerForm
              key={selected.id}
              server={selected}
              otherNames={otherNames}
              onSaved={async (server) => {
                await reload();
                setFlash(`Saved “${server.name}”.`);
              }}
              onRemoved={async () => {
                await reload();
                setSelection({ kind: "none" });
                setFlash(`Removed “${selected.name}”.`);
              }}
              onCancel={() => setSelection({ kind: "none" })}
            />
          )}
          {/* Keyed by the saved version too: a result from before the last save would describe old settings. */}
          {selected && <ConnectionProbe key={`${selected.id}-${selected.updatedAt}`} serverId={selected.id} />}
          {selection.kind === "none" && servers !== null && servers.length > 0 && (
            <p className="muted pane-hint">Choose a server to see or change its settings.</p>
          )}
        </div>
      </div>
    </section>
  );
}

import { useVirtualizer } from "@tanstack/react-virtual";
import { useCallback, useEffect, useId, useRef, useState } from "react";
import {
  commands,
  toCommandError,
  type CommandError,
  type GroupSummary,
  type PinnedGroup,
  type Server,
  type ServerProfile,
} from "../../ipc/commands";
import { ErrorNotice } from "../shell/ErrorNotice";
import { countOf, formatCount } from "../../format";
import { OfferedGroups } from "./OfferedGroups";
import { ServerSelect } from "../servers/ServerSelect";

const ROW_HEIGHT = 64;

/** A group to export, with its name where the server gave one (History shows it instead of the id). */
export type GroupChoice = { serverId: number; groupId: string; name?: string };

/** "ACO North · 120 members · urn:aco|N-1" */
export function groupLine(g: GroupSummary): string {
  return [g.members !== null ? `${g.members} members` : null, g.kind, g.identifier].filter(Boolean).join(" · ");
}

export function GroupsPage({ onExport }: { onExport: (choice: GroupChoice) => void }) {
  const [servers, setServers] = useState<Server[] | null>(null);
  const [serverId, setServerId] = useState<number | null>(null);
  const [query, setQuery] = useState("");
  const [groups, setGroups] = useState<GroupSummary[]>([]);
  const [total, setTotal] = useState<number | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [pins, setPins] = useState<PinnedGroup[]>([]);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<CommandError | null>(null);
  const [typedId, setTypedId] = useState("");
  const [profiles, setProfiles] = useState<ServerProfile[]>([]);
  const scroller = useRef<HTMLDivElement>(null);
  const ids = { server: useId(), search: useId(), typed: useId() };

  useEffect(() => {
    commands
      .listServers()
      .then((list) => {
        setServers(list);
        setServerId((id) => id ?? list[0]?.id ?? null);
      })
      .catch((e: unknown) => setError(toCommandError(e)));
    commands
      .listServerProfiles()
      .then(setProfiles)
      // Without the list only the quick choices are missing; searching and typed ids still work.
      .catch(() => setProfiles([]));
  }, []);

  const profileId = servers?.find((s) => s.id === serverId)?.profileId;
  const offered = profiles.find((p) => p.id === profileId)?.groups ?? [];

  const loadPins = useCallback((id: number) => {
    commands
      .listPinnedGroups(id)
      .then(setPins)
      .catch((e: unknown) => setError(toCommandError(e)));
  }, []);

  useEffect(() => {
    if (serverId === null) return;
    loadPins(serverId);
    let stale = false;
    setLoading(true);
    const timer = setTimeout(() => {
      commands
        .searchGroups(serverId, query.trim() === "" ? null : query.trim(), null)
        .then((page) => {
          if (stale) return;
          setGroups(page.groups);
          setTotal(page.total);
          setNext(page.next);
          setError(null);
        })
        .catch((e: unknown) => {
          if (stale) return;
          setGroups([]);
          setTotal(null);
          setNext(null);
          setError(toCommandError(e));
        })
        .finally(() => !stale && setLoading(false));
    }, 250);
    return () => {
      stale = true;
      clearTimeout(timer);
    };
  }, [serverId, query, loadPins]);

  const loadMore = () => {
    if (serverId === null || next === null) return;
    setLoading(true);
    commands
      .searchGroups(serverId, null, next)
      .then((page) => {
        setGroups((g) => [...g, ...page.groups]);
        setNext(page.next);
      })
      .catch((e: unknown) => setError(toCommandError(e)))
      .finally(() => setLoading(false));
  };

  const pinned = new Set(pins.map((p) => p.groupId));
  const togglePin = (g: GroupSummary) => {
    if (serverId === null) return;
    const call = pinned.has(g.id) ? commands.unpinGroup(serverId, g.id) : commands.pinGroup(serverId, g);
    call.then(() => loadPins(serverId)).catch((e: unknown) => setError(toCommandError(e)));
  };

  const virtualizer = useVirtualizer({
    count: groups.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 10,
    // Rows for the first paint, before the list is measured (and where nothing measures, as in tests).
    initialRect: { width: 0, height: 800 },
  });

  return (
    <section className="page" aria-labelledby="groups-title">
      <header className="page-header">
        <h1 id="groups-title">Groups</h1>
      </header>
      <div className="form groups-controls">
        <div className="field">
          <label htmlFor={ids.server}>Server</label>
          <ServerSelect id={ids.server} testId="groups-server" servers={servers} value={serverId} onChange={setServerId} />
        </div>
        <div className="field">
          <label htmlFor={ids.typed}>Know the Group's id? Export it directly</label>
          <div className="actions">
            <input id={ids.typed} data-testid="typed-group-id" value={typedId} onChange={(e) => setTypedId(e.target.value)} />
            <button
              type="button"
              disabled={serverId === null || typedId.trim() === ""}
              onClick={() => serverId !== null && onExport({ serverId, groupId: typedId.trim() })}
            >
              Export this group
            </button>
          </div>
        </div>
      </div>

      <OfferedGroups
        groups={offered}
        onExport={(groupId, name) => serverId !== null && onExport({ serverId, groupId, name })}
      />

      {pins.length > 0 && (
        <section aria-labelledby="pins-title" className="pins">
          <h2 id="pins-title">Pinned</h2>
          <ul className="pin-list" data-testid="pinned-groups">
            {pins.map((p) => (
              <li key={p.groupId} className="pin">
                <span>
                  <strong>{p.name ?? p.groupId}</strong> <code className="muted">{p.groupId}</code>
                  {p.members !== null && <span className="muted"> · {p.members} members</span>}
                </span>
                <button
                  type="button"
                  className="primary"
                  onClick={() => serverId !== null && onExport({ serverId, groupId: p.groupId, name: p.name ?? undefined })}
                >
                  Export
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}

      <div className="field">
        <label htmlFor={ids.search}>Search by name</label>
        <input
          id={ids.search}
          type="search"
          data-testid="groups-search"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          placeholder="for example aco"
        />
      </div>
      {error && <ErrorNotice error={error} title="Could not list this server's Groups" />}
      <p className="muted" role="status" aria-live="polite" data-testid="groups-count">
        {loading
          ? "Searching…"
          : total !== null
            ? `${countOf(total, "group")} on this server${groups.length < total ? `, ${formatCount(groups.length)} shown` : ""}`
            : `${countOf(groups.length, "group")} shown`}
      </p>
      <div className="group-list" ref={scroller} role="list" aria-label="Groups" data-testid="group-list">
        <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
          {virtualizer.getVirtualItems().map((item) => {
            const g = groups[item.index];
            if (!g) return null;
            return (
              <div
                key={g.id}
                role="listitem"
                className="group-row"
                data-testid={`group-${g.id}`}
                style={{ position: "absolute", top: 0, left: 0, right: 0, height: ROW_HEIGHT, transform: `translateY(${item.start}px)` }}
              >
                <span className="group-text">
                  <strong>{g.name ?? g.id}</strong> <code className="muted">{g.id}</code>
                  <span className="history-sub muted">{groupLine(g)}</span>
                </span>
                <span className="actions">
                  <button type="button" aria-pressed={pinned.has(g.id)} onClick={() => togglePin(g)} data-testid={`pin-${g.id}`}>
                    {pinned.has(g.id) ? "Unpin" : "Pin"}
                  </button>
                  <button
                    type="button"
                    className="primary"
                    data-testid={`export-${g.id}`}
                    onClick={() => serverId !== null && onExport({ serverId, groupId: g.id, name: g.name ?? undefined })}
                  >
                    Export…
                  </button>
                </span>
              </div>
            );
          })}
        </div>
      </div>
      {next && (
        <button type="button" onClick={loadMore} disabled={loading}>
          Load more
        </button>
      )}
    </section>
  );
}

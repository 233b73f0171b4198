// "Groups this server offers": the group ids a kind of server gives every client (BCDA's `all` and `runout`),
// from its server profile. They cannot always be found by searching (BCDA has no Group search), so they are
// offered as they are, one click from an export.
import type { ProfileGroup } from "../../ipc/bindings/ProfileGroup";

interface Props {
  groups: ProfileGroup[];
  onExport: (groupId: string, name: string) => void;
}

export function OfferedGroups({ groups, onExport }: Props) {
  if (groups.length === 0) return null;
  return (
    <section aria-labelledby="offered-groups-title" className="quick-groups">
      <h2 id="offered-groups-title">Groups this server offers</h2>
      <ul className="pin-list" data-testid="offered-groups">
        {groups.map((g) => (
          <li key={g.id} className="pin">
            <span>
              <strong>{g.label}</strong> <code className="muted">{g.id}</code>
            </span>
            <button
              type="button"
              className="primary"
              aria-label={`Export ${g.label}`}
              data-testid={`export-offered-${g.id}`}
              onClick={() => onExport(g.id, g.label)}
            >
              Export
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

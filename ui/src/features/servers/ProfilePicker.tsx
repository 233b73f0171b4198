// "Server type" at the top of the server form: which kind of server this is. Choosing one fills the form (the
// form does that, see profiles.ts); this shows what the user should know about that kind of server: its
// summary, what to fill in, the key it wants, its notes and the pages those facts come from.
import { useId } from "react";
import type { ServerProfile } from "../../ipc/commands";
import { keyHint } from "./profiles";

interface Props {
  profiles: ServerProfile[];
  /** The chosen profile's id; "" when none is chosen. */
  value: string;
  onChoose: (profileId: string) => void;
}

export function ProfilePicker({ profiles, value, onChoose }: Props) {
  const id = useId();
  const chosen = profiles.find((p) => p.id === value);
  const key = chosen ? keyHint(chosen) : null;
  return (
    <div className="field">
      <label htmlFor={id}>Server type</label>
      <select id={id} data-testid="server-profile" value={value} onChange={(e) => onChoose(e.target.value)}>
        <option value="">Not chosen</option>
        {profiles.map((p) => (
          <option key={p.id} value={p.id}>
            {p.name}
          </option>
        ))}
      </select>
      {!chosen ? (
        <p className="field-hint">
          Choosing the kind of server fills in this form with what it needs, and lets exports allow for its ways. You can
          still change every field.
        </p>
      ) : (
        <div className="profile-facts" data-testid="profile-facts">
          <p className="field-hint">{chosen.summary}</p>
          {chosen.base_url === null && chosen.base_url_hint !== null && (
            <p className="field-hint" data-testid="profile-placeholder-hint">
              Each organization has its own address, shaped like <code>{chosen.base_url_hint}</code>. Replace the{" "}
              <code>&lt;…&gt;</code> parts with your server's values, in the address and in the sign-in fields below.
            </p>
          )}
          {key && (
            <p className="field-warning" data-testid="profile-key-hint">
              {key}
            </p>
          )}
          {chosen.notes.length > 0 && (
            <ul className="profile-notes" aria-label="Good to know" data-testid="profile-notes">
              {chosen.notes.map((note) => (
                <li key={note}>{note}</li>
              ))}
            </ul>
          )}
          {chosen.sources.length > 0 && (
            <details className="profile-sources">
              <summary>Sources</summary>
              {/* Plain text to copy: the app window does not open web pages. */}
              <ul data-testid="profile-sources">
                {chosen.sources.map((url) => (
                  <li key={url}>
                    <code>{url}</code>
                  </li>
                ))}
              </ul>
            </details>
          )}
        </div>
      )}
    </div>
  );
}

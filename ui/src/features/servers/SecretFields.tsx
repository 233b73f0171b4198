// The server form's fields for sign-in with a secret: where a client secret goes in the token request,
// extra token parameters, and the secret itself. The secret is typed here and sent once, to the keychain;
// the form is only ever told whether one is saved, never what it is.
import { useId } from "react";
import type { AuthKind } from "../../ipc/bindings/AuthKind";
import type { SecretStyle } from "../../ipc/bindings/SecretStyle";

export function SecretStyleChoice({ value, onChange }: { value: SecretStyle; onChange: (style: SecretStyle) => void }) {
  return (
    <fieldset className="field">
      <legend>Send the client ID and secret</legend>
      <label className="choice">
        <input
          type="radio"
          name="secret-style"
          value="basic"
          data-testid="secret-style-basic"
          checked={value === "basic"}
          onChange={() => onChange("basic")}
        />
        In an Authorization header (client_secret_basic: BCDA, AB2D)
      </label>
      <label className="choice">
        <input
          type="radio"
          name="secret-style"
          value="post"
          data-testid="secret-style-post"
          checked={value === "post"}
          onChange={() => onChange("post")}
        />
        As form fields (client_secret_post: Microsoft Entra, Azure)
      </label>
    </fieldset>
  );
}

interface TokenParamsProps {
  value: string;
  error?: string;
  onChange: (text: string) => void;
  onBlur: () => void;
}

export function TokenParamsField({ value, error, onChange, onBlur }: TokenParamsProps) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>Extra token parameters (optional)</label>
      <textarea
        id={id}
        data-field="tokenParams"
        data-testid="server-token-params"
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : undefined}
        rows={2}
        value={value}
        placeholder="audience=https://api.example.org"
        spellCheck={false}
        autoCapitalize="off"
        onChange={(e) => onChange(e.target.value)}
        onBlur={onBlur}
      />
      {error ? (
        <p id={`${id}-error`} className="field-error" data-testid="error-tokenParams">
          {error}
        </p>
      ) : (
        <p className="field-hint">
          Only if the server's documentation asks for more fields in the token request. One name=value per line.
        </p>
      )}
    </div>
  );
}

interface SecretInputProps {
  auth: AuthKind;
  value: string;
  /** A secret for this method is in the keychain already. */
  saved: boolean;
  error?: string;
  onChange: (text: string) => void;
}

export function SecretInput({ auth, value, saved, error, onChange }: SecretInputProps) {
  const id = useId();
  const label = auth === "bearer_token" ? "Bearer token" : "Client secret";
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="password"
        data-field="secret"
        data-testid="server-secret"
        autoComplete="off"
        spellCheck={false}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : undefined}
        value={value}
        placeholder={saved ? "saved: type a new one to replace it" : ""}
        onChange={(e) => onChange(e.target.value)}
      />
      {error ? (
        <p id={`${id}-error`} className="field-error" data-testid="error-secret">
          {error}
        </p>
      ) : saved ? (
        <p className="field-hint" data-testid="secret-saved">
          A secret is saved in this computer's keychain. Leave this empty to keep it, or paste a new one to replace it.
        </p>
      ) : (
        <p className="field-hint" data-testid="secret-not-saved">
          {auth === "bearer_token"
            ? "Paste the token the server's portal gave you. Haul keeps it only in this computer's keychain and cannot renew it."
            : "Paste the secret that came with the client ID. Haul keeps it only in this computer's keychain."}
        </p>
      )}
    </div>
  );
}

import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import {
  commands,
  toCommandError,
  type CommandError,
  type KeyInfo,
  type Server,
  type ServerInput,
  type ServerSummary,
} from "../../ipc/commands";
import { ErrorNotice } from "../shell/ErrorNotice";
import {
  checkBaseUrl,
  DEFAULT_SCOPE,
  parseTrustedOrigins,
  validateServerForm,
  type ServerFormErrors,
  type ServerFormValues,
} from "./validation";

interface Props {
  server?: Server;
  otherNames: string[];
  onSaved: (server: Server) => void | Promise<void>;
  onRemoved?: () => void | Promise<void>;
  onCancel: () => void;
}

function initialValues(server?: Server): ServerFormValues {
  return {
    name: server?.name ?? "",
    baseUrl: server?.baseUrl ?? "",
    auth: server?.auth ?? "open",
    clientId: server?.clientId ?? "",
    scope: server?.scope ?? DEFAULT_SCOPE,
    trustedOrigins: server?.trustedOrigins.join("\n") ?? "",
  };
}

type TestState =
  | { kind: "idle" }
  | { kind: "running" }
  | { kind: "ok"; summary: ServerSummary }
  | { kind: "failed"; error: CommandError };

export function ServerForm({ server, otherNames, onSaved, onRemoved, onCancel }: Props) {
  const [values, setValues] = useState<ServerFormValues>(() => initialValues(server));
  const [errors, setErrors] = useState<ServerFormErrors>({});
  const [touched, setTouched] = useState<Partial<Record<keyof ServerFormValues, boolean>>>({});
  const [saveError, setSaveError] = useState<CommandError | null>(null);
  const [saving, setSaving] = useState(false);
  const [test, setTest] = useState<TestState>({ kind: "idle" });
  const [confirmingRemove, setConfirmingRemove] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);
  const ids = {
    name: useId(),
    url: useId(),
    clientId: useId(),
    scope: useId(),
    auth: useId(),
    key: useId(),
    tokenUrl: useId(),
    trustedOrigins: useId(),
  };
  const [keyKid, setKeyKid] = useState(server?.keyKid ?? "");
  const [tokenUrl, setTokenUrl] = useState(server?.tokenUrl ?? "");
  const [keys, setKeys] = useState<KeyInfo[]>([]);
  const [registered, setRegistered] = useState<string | null>(null);
  const [signIn, setSignIn] = useState<
    { kind: "ok"; tokenUrl: string; discovered: boolean } | { kind: "failed"; error: CommandError } | null
  >(null);

  useEffect(() => {
    if (values.auth !== "smart_backend") return;
    commands
      .listKeys()
      .then(setKeys)
      .catch(() => setKeys([]));
  }, [values.auth]);

  // Only Rust checks trusted origins, so its message stays until that field is edited.
  const recheck = (next: ServerFormValues, edited?: keyof ServerFormValues) =>
    setErrors((prev) => {
      const found = validateServerForm(next, otherNames);
      const keep = edited !== "trustedOrigins" && prev.trustedOrigins;
      return keep ? { ...found, trustedOrigins: prev.trustedOrigins } : found;
    });
  const set = <K extends keyof ServerFormValues>(key: K, value: ServerFormValues[K]) => {
    const next = { ...values, [key]: value };
    setValues(next);
    if (touched[key] || errors[key as keyof ServerFormErrors]) {
      recheck(next, key);
    }
  };
  const blur = (key: keyof ServerFormValues) => {
    setTouched((t) => ({ ...t, [key]: true }));
    recheck(values);
  };
  const shown = (key: keyof ServerFormErrors) => (touched[key] ? errors[key] : undefined) ?? undefined;

  const url = checkBaseUrl(values.baseUrl);
  const urlWarning = url.kind === "ok" ? url.warning : undefined;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const found = validateServerForm(values, otherNames);
    setErrors(found);
    setTouched({ name: true, baseUrl: true, clientId: true, scope: true, trustedOrigins: true });
    const firstBad = (["name", "baseUrl", "clientId", "scope"] as const).find((k) => found[k]);
    if (firstBad) {
      formRef.current?.querySelector<HTMLElement>(`[data-field="${firstBad}"]`)?.focus();
      return;
    }
    const input: ServerInput = {
      name: values.name,
      baseUrl: values.baseUrl,
      auth: values.auth,
      clientId: values.auth === "smart_backend" ? values.clientId : undefined,
      scope: values.auth === "smart_backend" ? values.scope : undefined,
      // Settings this form does not edit yet (key, token URL) are kept as they are.
      keyKid: values.auth === "smart_backend" && keyKid !== "" ? keyKid : undefined,
      tokenUrl: values.auth === "smart_backend" && tokenUrl.trim() !== "" ? tokenUrl.trim() : undefined,
      // Always sent (an absent list would save as empty); open servers get no token to share.
      trustedOrigins: values.auth === "smart_backend" ? parseTrustedOrigins(values.trustedOrigins) : [],
    };
    setSaving(true);
    setSaveError(null);
    try {
      const saved = server ? await commands.updateServer(server.id, input) : await commands.addServer(input);
      await onSaved(saved);
    } catch (e) {
      const err = toCommandError(e);
      if (err.field) {
        setErrors((prev) => ({ ...prev, [err.field as string]: err.message }));
      } else {
        setSaveError(err);
      }
    } finally {
      setSaving(false);
    }
  };

  const runTest = async () => {
    if (url.kind === "error") {
      setTouched((t) => ({ ...t, baseUrl: true }));
      recheck(values);
      return;
    }
    setTest({ kind: "running" });
    setSignIn(null);
    try {
      setTest({ kind: "ok", summary: await commands.testConnection(url.normalized) });
    } catch (e) {
      setTest({ kind: "failed", error: toCommandError(e) });
      return;
    }
    // With sign-in set up, prove it too: a token from the server's token endpoint.
    if (values.auth === "smart_backend" && keyKid !== "" && values.clientId.trim() !== "") {
      try {
        const result = await commands.testSignIn(
          url.normalized,
          values.clientId,
          keyKid,
          tokenUrl.trim() === "" ? null : tokenUrl.trim(),
          values.scope.trim() === "" ? null : values.scope.trim(),
        );
        setSignIn({ kind: "ok", tokenUrl: result.tokenUrl, discovered: result.discovered });
      } catch (e) {
        setSignIn({ kind: "failed", error: toCommandError(e) });
      }
    }
  };

  const remove = async () => {
    if (!server) return;
    try {
      await commands.removeServer(server.id);
      await onRemoved?.();
    } catch (e) {
      setSaveError(toCommandError(e));
      setConfirmingRemove(false);
    }
  };

  const fieldProps = (key: keyof ServerFormErrors, id: string) => ({
    id,
    "data-field": key,
    "aria-invalid": shown(key) ? true : undefined,
    "aria-describedby": shown(key) ? `${id}-error` : undefined,
  });

  return (
    <form ref={formRef} className="card form" onSubmit={submit} noValidate aria-labelledby="server-form-title">
      <h2 id="server-form-title">{server ? `Edit “${server.name}”` : "Add a server"}</h2>

      <div className="field">
        <label htmlFor={ids.name}>Name</label>
        <input
          {...fieldProps("name", ids.name)}
          data-testid="server-name"
          value={values.name}
          autoFocus={!server}
          placeholder="Payer production"
          onChange={(e) => set("name", e.target.value)}
          onBlur={() => blur("name")}
        />
        {shown("name") && (
          <p id={`${ids.name}-error`} className="field-error" data-testid="error-name">
            {shown("name")}
          </p>
        )}
      </div>

      <div className="field">
        <label htmlFor={ids.url}>FHIR base URL</label>
        <input
          {...fieldProps("baseUrl", ids.url)}
          data-testid="server-url"
          value={values.baseUrl}
          placeholder="https://ehr.example.org/fhir"
          readOnly={server?.builtin}
          spellCheck={false}
          autoCapitalize="off"
          onChange={(e) => set("baseUrl", e.target.value)}
          onBlur={() => blur("baseUrl")}
        />
        {shown("baseUrl") ? (
          <p id={`${ids.url}-error`} className="field-error" data-testid="error-baseUrl">
            {shown("baseUrl")}
          </p>
        ) : urlWarning ? (
          <p className="field-warning" data-testid="warning-baseUrl">
            {urlWarning}
          </p>
        ) : server?.builtin ? (
          <p className="field-hint" data-testid="builtin-hint">
            Haul runs this demo server itself, on this computer, with made-up patients: try exports here without an
            account. Its address changes each time Haul starts, so it cannot be edited.
          </p>
        ) : (
          <p className="field-hint">The address your server's documentation calls the FHIR base or FHIR endpoint.</p>
        )}
      </div>

      <fieldset className="field">
        <legend id={ids.auth}>Sign-in</legend>
        <label className="choice">
          <input
            type="radio"
            name="auth"
            value="open"
            checked={values.auth === "open"}
            onChange={() => set("auth", "open")}
          />
          Open: no sign-in (test servers, or servers inside your network)
        </label>
        <label className="choice">
          <input
            type="radio"
            name="auth"
            value="smart_backend"
            data-testid="auth-smart"
            checked={values.auth === "smart_backend"}
            onChange={() => set("auth", "smart_backend")}
          />
          SMART Backend Services: a registered client ID and key
        </label>
      </fieldset>

      {values.auth === "smart_backend" && (
        <>
          <div className="field">
            <label htmlFor={ids.clientId}>Client ID</label>
            <input
              {...fieldProps("clientId", ids.clientId)}
              data-testid="server-client-id"
              value={values.clientId}
              spellCheck={false}
              onChange={(e) => set("clientId", e.target.value)}
              onBlur={() => blur("clientId")}
            />
            {shown("clientId") ? (
              <p id={`${ids.clientId}-error`} className="field-error">
                {shown("clientId")}
              </p>
            ) : (
              <p className="field-hint">Given to you by the server's administrators when they registered Haul.</p>
            )}
          </div>
          <div className="field">
            <label htmlFor={ids.scope}>Scope</label>
            <input
              {...fieldProps("scope", ids.scope)}
              data-testid="server-scope"
              value={values.scope}
              spellCheck={false}
              onChange={(e) => set("scope", e.target.value)}
              onBlur={() => blur("scope")}
            />
            {shown("scope") ? (
              <p id={`${ids.scope}-error`} className="field-error">
                {shown("scope")}
              </p>
            ) : (
              <p className="field-hint">Usually system/*.read (SMART v1) or system/*.rs (SMART v2).</p>
            )}
          </div>
          <div className="field">
            <label htmlFor={ids.key}>Signing key</label>
            <select id={ids.key} data-testid="server-key" value={keyKid} onChange={(e) => setKeyKid(e.target.value)}>
              <option value="">No key yet</option>
              {keys.map((k) => (
                <option key={k.kid} value={k.kid}>
                  {k.label} ({k.alg}, {k.kid.slice(0, 12)}…)
                </option>
              ))}
            </select>
            <p className="field-hint">
              Create or import keys on the Keys page, and give the server's administrators the public key (JWKS).
            </p>
            {server?.builtin && (
              <div className="actions">
                <button
                  type="button"
                  data-testid="register-with-demo"
                  disabled={keyKid === ""}
                  onClick={() =>
                    commands
                      .registerKeyWithDemo(keyKid)
                      .then((clientId) => {
                        set("clientId", clientId);
                        setRegistered(`Registered. The demo server issued the client ID ${clientId}.`);
                      })
                      .catch((e: unknown) => setSaveError(toCommandError(e)))
                  }
                >
                  Register this key with the demo server
                </button>
                {registered && (
                  <span className="field-hint" role="status">
                    {registered}
                  </span>
                )}
              </div>
            )}
          </div>
          <div className="field">
            <label htmlFor={ids.tokenUrl}>Token URL (optional)</label>
            <input
              id={ids.tokenUrl}
              data-testid="server-token-url"
              value={tokenUrl}
              onChange={(e) => setTokenUrl(e.target.value)}
              placeholder="found from the server when empty"
            />
          </div>
          {/* The demo keeps its files on its own address, so it has nothing to trust. */}
          {!server?.builtin && (
            <div className="field">
              <label htmlFor={ids.trustedOrigins}>Storage addresses trusted with the sign-in token</label>
              <textarea
                {...fieldProps("trustedOrigins", ids.trustedOrigins)}
                data-testid="server-trusted-origins"
                rows={3}
                value={values.trustedOrigins}
                placeholder="https://storage.example.com"
                spellCheck={false}
                autoCapitalize="off"
                onChange={(e) => set("trustedOrigins", e.target.value)}
                onBlur={() => blur("trustedOrigins")}
              />
              {shown("trustedOrigins") ? (
                <p id={`${ids.trustedOrigins}-error`} className="field-error" data-testid="error-trustedOrigins">
                  {shown("trustedOrigins")}
                </p>
              ) : (
                <p className="field-hint">
                  Only if this server keeps its export files on another host that needs your sign-in. Haul sends
                  your token only to this server's own address and to the addresses listed here. One address per
                  line.
                </p>
              )}
            </div>
          )}
        </>
      )}

      {saveError && <ErrorNotice error={saveError} title="Not saved" />}

      <div className="actions">
        <button type="submit" className="primary" disabled={saving} data-testid="save-server">
          {saving ? "Saving…" : server ? "Save changes" : "Add server"}
        </button>
        <button type="button" onClick={runTest} disabled={test.kind === "running"} data-testid="test-connection">
          {test.kind === "running" ? "Testing…" : "Test connection"}
        </button>
        <button type="button" className="quiet" onClick={onCancel}>
          Cancel
        </button>
        {server && (
          <button
            type="button"
            className="danger push-right"
            onClick={() => setConfirmingRemove(true)}
            data-testid="remove-server"
          >
            Remove…
          </button>
        )}
      </div>

      {confirmingRemove && server && (
        <div className="confirm" role="alertdialog" aria-labelledby="confirm-title" data-testid="confirm-remove">
          <p id="confirm-title">
            Remove “{server.name}” from Haul? Exports already downloaded stay where they are.
          </p>
          <div className="actions">
            <button type="button" className="danger" onClick={remove} autoFocus data-testid="confirm-remove-yes">
              Remove
            </button>
            <button type="button" onClick={() => setConfirmingRemove(false)}>
              Keep it
            </button>
          </div>
        </div>
      )}

      <div aria-live="polite">
        {test.kind === "ok" && <TestResult summary={test.summary} />}
        {test.kind === "failed" && <ErrorNotice error={test.error} title="Connection test failed" />}
        {signIn?.kind === "ok" && (
          <div className="notice notice-ok" data-testid="sign-in-result">
            <strong className="notice-title">Signed in</strong>
            <p>
              The token endpoint <code>{signIn.tokenUrl}</code>
              {signIn.discovered ? " (found on the server)" : ""} accepted this client ID and key and issued a token.
            </p>
          </div>
        )}
        {signIn?.kind === "failed" && <ErrorNotice error={signIn.error} title="Sign-in failed" />}
      </div>
    </form>
  );
}

function TestResult({ summary }: { summary: ServerSummary }) {
  const levels = summary.exportLevels.length > 0 ? summary.exportLevels.join(", ") : "none listed";
  return (
    <div className={`notice ${summary.instantiatesBulkData ? "notice-ok" : "notice-warn"}`} data-testid="test-result">
      <strong className="notice-title">
        {summary.instantiatesBulkData ? "Connected: a Bulk Data server" : "Connected, but Bulk Data is not declared"}
      </strong>
      <dl className="facts">
        <dt>Software</dt>
        <dd>
          {summary.software ?? "not stated"}
          {summary.softwareVersion ? ` ${summary.softwareVersion}` : ""}
        </dd>
        <dt>FHIR version</dt>
        <dd>{summary.fhirVersion ?? "not stated"}</dd>
        <dt>Bulk Data</dt>
        <dd>
          {summary.instantiatesBulkData
            ? "Yes: it instantiates the Bulk Data CapabilityStatement"
            : "Not declared: the server does not say it instantiates the Bulk Data CapabilityStatement. Exports may still work; ask its administrators."}
        </dd>
        <dt>Export levels</dt>
        <dd>{levels}</dd>
      </dl>
    </div>
  );
}

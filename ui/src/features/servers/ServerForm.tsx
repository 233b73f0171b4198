import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import {
  commands,
  toCommandError,
  type CommandError,
  type KeyInfo,
  type Server,
  type ServerSummary,
  type ServerInput,
  type ServerProfile,
} from "../../ipc/commands";
import { ErrorNotice } from "../shell/ErrorNotice";
import { CaFileField } from "./CaFileField";
import { NetworkSettings } from "./NetworkSettings";
import { DemoKeyRegistration } from "./DemoKeyRegistration";
import { ProfilePicker } from "./ProfilePicker";
import { fillFromProfile } from "./profiles";
import { SecretInput, SecretStyleChoice, TokenParamsField } from "./SecretFields";
import { SmartRegistrationFields } from "./SmartRegistrationFields";
import { TestResult } from "./TestResult";
import {
  checkBaseUrl,
  DEFAULT_SCOPE,
  formatTokenParams,
  parseTokenParams,
  parseTrustedOrigins,
  SIGN_IN_LABELS,
  sendsToken,
  usesSecret,
  usesTokenEndpoint,
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
    // A client secret's scope is the server's own word (often none), so it gets no SMART default.
    scope: server?.scope ?? (server?.auth === "client_secret" ? "" : DEFAULT_SCOPE),
    trustedOrigins: server?.trustedOrigins.join("\n") ?? "",
    secretStyle: server?.secretStyle ?? "basic",
    tokenParams: formatTokenParams(server?.tokenParams ?? []),
    tokenUrl: server?.tokenUrl ?? "",
    assertionKid: server?.assertionKid ?? "",
    jku: server?.jku ?? "",
  };
}

/** The fields with their own error, in the order they appear (the first bad one gets the focus). */
const FORM_FIELDS = [
  "name",
  "baseUrl",
  "clientId",
  "scope",
  "assertionKid",
  "jku",
  "tokenParams",
  "tokenUrl",
  "trustedOrigins",
] as const;

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
  // The server as last saved here: a new server saved once is updated (not added again) if its secret then
  // fails to save and the user saves again.
  const [current, setCurrent] = useState<Server | undefined>(server);
  // Typed, sent once to the keychain on save, then cleared; never filled from Rust.
  const [secret, setSecret] = useState("");
  const [secretError, setSecretError] = useState<string | undefined>(undefined);
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
  const [profiles, setProfiles] = useState<ServerProfile[]>([]);
  const [profileId, setProfileId] = useState(server?.profileId ?? "");
  const [keys, setKeys] = useState<KeyInfo[]>([]);
  const [signIn, setSignIn] = useState<
    { kind: "ok"; tokenUrl: string; discovered: boolean } | { kind: "failed"; error: CommandError } | null
  >(null);

  useEffect(() => {
    commands
      .listServerProfiles()
      .then(setProfiles)
      // Without the list the form still works, only without "Server type" to choose from.
      .catch(() => setProfiles([]));
  }, []);

  // Choosing a server type fills the form; every field stays editable, and "Not chosen" changes nothing.
  const chooseProfile = (id: string) => {
    const profile = profiles.find((p) => p.id === id);
    const previous = profiles.find((p) => p.id === profileId);
    setProfileId(id);
    if (!profile) return;
    const filled = fillFromProfile(profile, previous, { values, secret });
    setValues(filled.values);
    setSecret(filled.secret);
    recheck(filled.values);
  };

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
    setTouched(Object.fromEntries(FORM_FIELDS.map((k) => [k, true])));
    const firstBad = FORM_FIELDS.find((k) => found[k]);
    if (firstBad) {
      formRef.current?.querySelector<HTMLElement>(`[data-field="${firstBad}"]`)?.focus();
      return;
    }
    const endpoint = usesTokenEndpoint(values.auth);
    const withSecret = values.auth === "client_secret";
    const params = parseTokenParams(values.tokenParams);
    const input: ServerInput = {
      name: values.name,
      baseUrl: values.baseUrl,
      auth: values.auth,
      clientId: endpoint ? values.clientId : undefined,
      scope: endpoint ? values.scope : undefined,
      keyKid: values.auth === "smart_backend" && keyKid !== "" ? keyKid : undefined,
      tokenUrl: endpoint && values.tokenUrl.trim() !== "" ? values.tokenUrl.trim() : undefined,
      // Always sent (an absent list would save as empty); open servers get no token to share.
      trustedOrigins: sendsToken(values.auth) ? parseTrustedOrigins(values.trustedOrigins) : [],
      secretStyle: withSecret ? values.secretStyle : undefined,
      tokenParams: withSecret && params.kind === "ok" ? params.params : [],
      ...(values.auth === "smart_backend" ? { assertionKid: values.assertionKid, jku: values.jku } : {}),
    };
    setSaving(true);
    setSaveError(null);
    setSecretError(undefined);
    try {
      let saved = current ? await commands.updateServer(current.id, input) : await commands.addServer(input);
      setCurrent(saved);
      saved = await commands.setServerProfile(saved.id, profileId === "" ? null : profileId);
      if (usesSecret(values.auth) && secret.trim() !== "") {
        try {
          saved = await commands.setServerSecret(saved.id, secret);
          setSecret("");
        } catch (e) {
          // The rest is saved; the secret is not, and says why beside its field.
          setSecretError(toCommandError(e).message);
          return;
        }
      }
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
      setTest({ kind: "ok", summary: await commands.testConnection(url.normalized, current?.id ?? null) });
    } catch (e) {
      setTest({ kind: "failed", error: toCommandError(e) });
      return;
    }
    // With sign-in set up, prove it too: a token from the server's token endpoint.
    if (values.auth === "smart_backend" && keyKid !== "" && values.clientId.trim() !== "") {
      try {
        const blank = (v: string) => (v.trim() === "" ? null : v.trim());
        const result = await commands.testSignIn({
          baseUrl: url.normalized,
          clientId: values.clientId,
          keyKid,
          tokenUrl: blank(values.tokenUrl),
          scope: blank(values.scope),
          assertionKid: blank(values.assertionKid),
          jku: blank(values.jku),
          serverId: current?.id ?? null,
        });
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

  // One secret field, shown beside the client ID for a client secret, alone for a bearer token.
  const secretInput = usesSecret(values.auth) && (
    <SecretInput
      auth={values.auth}
      value={secret}
      saved={current?.secretSaved === true && current.auth === values.auth}
      error={secretError}
      onChange={(text) => {
        setSecret(text);
        setSecretError(undefined);
      }}
    />
  );

  const fieldProps = (key: keyof ServerFormErrors, id: string) => ({
    id,
    "data-field": key,
    "aria-invalid": shown(key) ? true : undefined,
    "aria-describedby": shown(key) ? `${id}-error` : undefined,
  });

  return (
    <form ref={formRef} className="card form" onSubmit={submit} noValidate aria-labelledby="server-form-title">
      <h2 id="server-form-title">{server ? `Edit “${server.name}”` : "Add a server"}</h2>

      {/* The demo server is Haul's own: it has no other kind. */}
      {!server?.builtin && <ProfilePicker profiles={profiles} value={profileId} onChoose={chooseProfile} />}

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
          placeholder={profiles.find((p) => p.id === profileId)?.base_url_hint ?? "https://ehr.example.org/fhir"}
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
        <label className="choice">
          <input
            type="radio"
            name="auth"
            value="client_secret"
            data-testid="auth-client-secret"
            checked={values.auth === "client_secret"}
            onChange={() => {
              // SMART's default scope means nothing to a client-secret server; leave it empty unless typed.
              const scope = values.scope === DEFAULT_SCOPE ? "" : values.scope;
              setValues({ ...values, auth: "client_secret", scope });
            }}
          />
          {SIGN_IN_LABELS.client_secret}: OAuth client credentials (CMS BCDA and AB2D, Azure Health Data Services)
        </label>
        <label className="choice">
          <input
            type="radio"
            name="auth"
            value="bearer_token"
            data-testid="auth-bearer-token"
            checked={values.auth === "bearer_token"}
            onChange={() => set("auth", "bearer_token")}
          />
          {SIGN_IN_LABELS.bearer_token}: a token you paste (gateways that issue one by hand)
        </label>
      </fieldset>

      {usesTokenEndpoint(values.auth) && (
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
              <p className="field-hint">
                {values.auth === "client_secret"
                  ? "Issued together with the client secret (the server's portal or its administrators)."
                  : "Given to you by the server's administrators when they registered Haul."}
              </p>
            )}
          </div>
          {values.auth === "client_secret" && secretInput}
          <div className="field">
            <label htmlFor={ids.scope}>{values.auth === "client_secret" ? "Scope (optional)" : "Scope"}</label>
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
              <p className="field-hint">
                {values.auth === "client_secret"
                  ? "As the server's documentation says: none for BCDA, clientCreds for AB2D, https://<FHIR host>/.default for Azure."
                  : "Usually system/*.read (SMART v1) or system/*.rs (SMART v2)."}
              </p>
            )}
          </div>
          {values.auth === "smart_backend" && (
            <div className="field">
              <label htmlFor={ids.key}>Signing key</label>
              <select id={ids.key} data-testid="server-key" value={keyKid} onChange={(e) => setKeyKid(e.target.value)}>
                <option value="">{keys.length > 0 ? "Choose a key" : "No keys yet: create one on the Keys page"}</option>
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
                <DemoKeyRegistration
                  kid={keyKid}
                  onRegistered={(clientId) => set("clientId", clientId)}
                  onError={(e) => setSaveError(e)}
                />
              )}
            </div>
          )}
          {values.auth === "smart_backend" && (
            <SmartRegistrationFields
              values={values}
              errors={{ assertionKid: shown("assertionKid"), jku: shown("jku") }}
              onChange={set}
              open={profiles.find((p) => p.id === profileId)?.sign_in.key?.registers === "jwks_url"}
            />
          )}
          {values.auth === "client_secret" && (
            <>
              <SecretStyleChoice value={values.secretStyle} onChange={(style) => set("secretStyle", style)} />
              <TokenParamsField
                value={values.tokenParams}
                error={shown("tokenParams")}
                onChange={(text) => set("tokenParams", text)}
                onBlur={() => blur("tokenParams")}
              />
            </>
          )}
          <div className="field">
            <label htmlFor={ids.tokenUrl}>Token URL (optional)</label>
            <input
              {...fieldProps("tokenUrl", ids.tokenUrl)}
              data-testid="server-token-url"
              value={values.tokenUrl}
              spellCheck={false}
              onChange={(e) => set("tokenUrl", e.target.value)}
              onBlur={() => blur("tokenUrl")}
              placeholder="found from the server when empty"
            />
            {shown("tokenUrl") && (
              <p id={`${ids.tokenUrl}-error`} className="field-error" data-testid="error-tokenUrl">
                {shown("tokenUrl")}
              </p>
            )}
          </div>
        </>
      )}

      {values.auth === "bearer_token" && secretInput}

      {sendsToken(values.auth) && (
        <>
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

      {server && !server.builtin && <CaFileField server={server} onChanged={onSaved} />}
      {server && !server.builtin && <NetworkSettings server={server} onChanged={onSaved} />}
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

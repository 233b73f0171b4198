import { useCallback, useEffect, useId, useState } from "react";
import { commands, toCommandError, type CommandError } from "../../ipc/commands";
import type { StorageKind } from "../../ipc/bindings/StorageKind";
import type { StorageSignIn } from "../../ipc/bindings/StorageSignIn";
import type { StorageSignInInput } from "../../ipc/bindings/StorageSignInInput";
import { ErrorNotice } from "../shell/ErrorNotice";

/** What each kind of storage asks for, in its own words. */
export const KINDS: Record<
  StorageKind,
  { name: string; scheme: string; example: string; keyId: string | null; secret: string; secretHint: string }
> = {
  s3: {
    name: "Amazon S3 (or S3-compatible)",
    scheme: "s3://",
    example: "s3://my-bucket",
    keyId: "Access key id",
    secret: "Secret access key",
    secretHint: "From the AWS console (IAM → Users → Security credentials) or your storage's administrator.",
  },
  azure: {
    name: "Azure Blob Storage / ADLS Gen2",
    scheme: "az://",
    example: "az://my-container",
    keyId: "Storage account name",
    secret: "Account key or SAS token",
    secretHint: "Azure portal → the storage account → Access keys (or Shared access signature).",
  },
  gcs: {
    name: "Google Cloud Storage",
    scheme: "gs://",
    example: "gs://my-bucket",
    keyId: null,
    secret: "Service account key (JSON)",
    secretHint: "Google Cloud console → IAM → Service accounts → Keys → Add key (JSON). Paste the whole file.",
  },
};

/** A form problem the page can say before asking the Rust side (which checks everything again). */
export function formProblem(input: StorageSignInInput): string | null {
  const kind = KINDS[input.kind];
  if (!input.address.trim().toLowerCase().startsWith(kind.scheme))
    return `Give the ${input.kind === "azure" ? "container" : "bucket"} as an address starting with ${kind.scheme}, for example ${kind.example}.`;
  if (kind.keyId && input.keyId.trim() === "") return `Give the ${kind.keyId.toLowerCase()}.`;
  if (input.secret.trim() === "") return `Paste the ${kind.secret.toLowerCase()}.`;
  return null;
}

function emptyInput(kind: StorageKind): StorageSignInInput {
  return { address: "", kind, keyId: "", region: null, endpoint: null, secret: "" };
}

function SignInCard({ signIn, onRemoved }: { signIn: StorageSignIn; onRemoved: () => void }) {
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<CommandError | null>(null);
  return (
    <li className="card" data-testid="storage-item">
      <div className="page-header">
        <h2>
          <code>{signIn.address}</code>
        </h2>
        <span className="badge">{KINDS[signIn.kind].name}</span>
      </div>
      <dl className="facts">
        <dt>{KINDS[signIn.kind].keyId ?? "Service account"}</dt>
        <dd>{signIn.keyId}</dd>
        {signIn.region && (
          <>
            <dt>Region</dt>
            <dd>{signIn.region}</dd>
          </>
        )}
        {signIn.endpoint && (
          <>
            <dt>Endpoint</dt>
            <dd>{signIn.endpoint}</dd>
          </>
        )}
        <dt>Secret</dt>
        <dd>in this computer's keychain</dd>
        <dt>Saved</dt>
        <dd>{signIn.createdAt.slice(0, 16).replace("T", " ")}</dd>
      </dl>
      {error && <ErrorNotice error={error} />}
      <div className="actions">
        {confirming ? (
          <div className="confirm" role="alertdialog" aria-label="Remove this sign-in?">
            <p>
              Remove the sign-in for {signIn.address} from Haul and its secret from this computer's keychain? Exports
              there will use the credentials of the environment, if any.
            </p>
            <div className="actions">
              <button
                type="button"
                className="danger"
                data-testid="confirm-remove-storage"
                onClick={() =>
                  commands
                    .removeStorageSignIn(signIn.id)
                    .then(onRemoved)
                    .catch((e: unknown) => setError(toCommandError(e)))
                }
              >
                Remove
              </button>
              <button type="button" onClick={() => setConfirming(false)}>
                Keep it
              </button>
            </div>
          </div>
        ) : (
          <button
            type="button"
            className="danger push-right"
            data-testid="remove-storage"
            onClick={() => setConfirming(true)}
          >
            Remove…
          </button>
        )}
      </div>
    </li>
  );
}

export function StoragePage() {
  const [signIns, setSignIns] = useState<StorageSignIn[] | null>(null);
  const [input, setInput] = useState<StorageSignInInput>(emptyInput("s3"));
  const [error, setError] = useState<CommandError | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [flash, setFlash] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const ids = { address: useId(), keyId: useId(), secret: useId(), region: useId(), endpoint: useId() };
  const kind = KINDS[input.kind];

  const reload = useCallback(() => {
    commands
      .listStorageSignIns()
      .then((s) => {
        setSignIns(s);
        setError(null);
      })
      .catch((e: unknown) => setError(toCommandError(e)));
  }, []);
  useEffect(reload, [reload]);

  const set = (patch: Partial<StorageSignInInput>) => setInput((i) => ({ ...i, ...patch }));
  const run = async (what: () => Promise<string>) => {
    const p = formProblem(input);
    setProblem(p);
    if (p) return;
    setBusy(true);
    setError(null);
    setFlash(null);
    try {
      setFlash(await what());
    } catch (e) {
      setError(toCommandError(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="page" aria-labelledby="storage-title">
      <header className="page-header">
        <h1 id="storage-title">Storage</h1>
      </header>
      <p className="muted">
        Exports and Delta tables can go to cloud storage (an address such as <code>s3://bucket/exports</code> instead of
        a folder). Save a sign-in for a bucket or container here and Haul uses it for every address under it; the
        secret stays in this computer's keychain. Without one, Haul uses the credentials of the environment (AWS
        profile files, <code>AWS_ACCESS_KEY_ID</code>, <code>AZURE_STORAGE_ACCOUNT_KEY</code>,{" "}
        <code>GOOGLE_APPLICATION_CREDENTIALS</code>, …).
      </p>
      {flash && (
        <p className="notice notice-ok" role="status" data-testid="flash">
          {flash}
        </p>
      )}
      {error && <ErrorNotice error={error} title="That did not work" />}
      {signIns !== null && signIns.length === 0 && (
        <div className="empty" data-testid="no-storage">
          <p>No storage sign-ins saved.</p>
        </div>
      )}
      <ul className="key-list">
        {signIns?.map((s) => (
          <SignInCard
            key={s.id}
            signIn={s}
            onRemoved={() => {
              setFlash(`Removed the sign-in for ${s.address}.`);
              reload();
            }}
          />
        ))}
      </ul>
      <form className="form card" noValidate onSubmit={(e) => e.preventDefault()} data-testid="storage-form">
        <h2>Add a sign-in</h2>
        <fieldset className="field">
          <legend>Storage</legend>
          {(Object.keys(KINDS) as StorageKind[]).map((k) => (
            <label className="choice" key={k}>
              <input
                type="radio"
                name="storage-kind"
                data-testid={`storage-kind-${k}`}
                checked={input.kind === k}
                onChange={() => setInput({ ...emptyInput(k), address: "" })}
              />
              {KINDS[k].name}
            </label>
          ))}
        </fieldset>
        <div className="field">
          <label htmlFor={ids.address}>{input.kind === "azure" ? "Container" : "Bucket"} (with a prefix, if the sign-in is for that prefix only)</label>
          <input
            id={ids.address}
            data-testid="storage-address"
            value={input.address}
            onChange={(e) => set({ address: e.target.value })}
            placeholder={kind.example}
            spellCheck={false}
          />
        </div>
        {kind.keyId && (
          <div className="field">
            <label htmlFor={ids.keyId}>{kind.keyId}</label>
            <input
              id={ids.keyId}
              data-testid="storage-key-id"
              value={input.keyId}
              onChange={(e) => set({ keyId: e.target.value })}
              spellCheck={false}
              autoComplete="off"
            />
          </div>
        )}
        <div className="field">
          <label htmlFor={ids.secret}>{kind.secret}</label>
          {input.kind === "gcs" ? (
            <textarea
              id={ids.secret}
              data-testid="storage-secret"
              rows={5}
              value={input.secret}
              onChange={(e) => set({ secret: e.target.value })}
              spellCheck={false}
            />
          ) : (
            <input
              id={ids.secret}
              data-testid="storage-secret"
              type="password"
              value={input.secret}
              onChange={(e) => set({ secret: e.target.value })}
              autoComplete="off"
            />
          )}
          <p className="field-hint">{kind.secretHint} Kept in this computer's keychain only.</p>
        </div>
        {input.kind === "s3" && (
          <div className="field">
            <label htmlFor={ids.region}>Region (optional)</label>
            <input
              id={ids.region}
              data-testid="storage-region"
              value={input.region ?? ""}
              onChange={(e) => set({ region: e.target.value || null })}
              placeholder="us-east-1"
              spellCheck={false}
            />
          </div>
        )}
        {input.kind !== "gcs" && (
          <div className="field">
            <label htmlFor={ids.endpoint}>Endpoint (optional: an S3-compatible server, a private endpoint)</label>
            <input
              id={ids.endpoint}
              data-testid="storage-endpoint"
              value={input.endpoint ?? ""}
              onChange={(e) => set({ endpoint: e.target.value || null })}
              placeholder="https://…"
              spellCheck={false}
            />
            <p className="field-hint">https:// only; plain http:// is accepted for a test server on this computer.</p>
          </div>
        )}
        {problem && (
          <p className="field-error" role="alert">
            {problem}
          </p>
        )}
        <div className="actions">
          <button
            type="button"
            data-testid="test-storage"
            disabled={busy}
            onClick={() =>
              void run(() => commands.testStorageSignIn(input).then(() => `Haul could list ${input.address.trim()}.`))
            }
          >
            Test
          </button>
          <button
            type="button"
            className="primary"
            data-testid="save-storage"
            disabled={busy}
            onClick={() =>
              void run(() =>
                commands.saveStorageSignIn(input).then((s) => {
                  setInput(emptyInput(input.kind));
                  reload();
                  return `Saved the sign-in for ${s.address}; its secret is in this computer's keychain.`;
                }),
              )
            }
          >
            {busy ? "Working…" : "Save"}
          </button>
        </div>
      </form>
    </section>
  );
}

import { save as saveDialog } from "@tauri-apps/plugin-dialog";
import { useCallback, useEffect, useId, useState } from "react";
import { commands, toCommandError, type CommandError, type KeyAlgorithm, type KeyInfo } from "../../ipc/commands";
import { ErrorNotice } from "../shell/ErrorNotice";
import { ProofSignature } from "./ProofSignature";

/** RSA sizes offered for RS384; 2048 is the default, some servers (CMS DPC) ask for 4096. */
export const RSA_SIZES = [2048, 3072, 4096] as const;
export type RsaSize = (typeof RSA_SIZES)[number];

/** A file name from a key's label: letters, digits and dashes only, so every system's save dialog takes it. */
function fileStem(label: string): string {
  return label.replace(/[^A-Za-z0-9-]+/g, "-");
}

/** A label is required and short: it is how the key is recognised in lists and in the server form. */
export function labelProblem(label: string): string | null {
  if (label.trim() === "") return "Give the key a label, for example “Payer production 2026”.";
  if (label.trim().length > 100) return "Keep the label under 100 characters.";
  return null;
}

function KeyCard({ info, onDeleted }: { info: KeyInfo; onDeleted: (servers: string[]) => void }) {
  const [jwks, setJwks] = useState<string | null>(null);
  const [pem, setPem] = useState<string | null>(null);
  const [copied, setCopied] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<CommandError | null>(null);
  return (
    <li className="card key-card" data-testid="key-item">
      <div className="page-header">
        <h2>{info.label}</h2>
        <span className="badge">{info.alg}</span>
      </div>
      <dl className="facts">
        <dt>kid</dt>
        <dd>
          <code data-testid="key-kid">{info.kid}</code>
        </dd>
        <dt>Created</dt>
        <dd>{info.createdAt.slice(0, 16).replace("T", " ")}</dd>
        <dt>Last used</dt>
        <dd>{info.lastUsedAt ? info.lastUsedAt.slice(0, 16).replace("T", " ") : "never"}</dd>
        <dt>Used by</dt>
        <dd>{info.usedBy.length > 0 ? info.usedBy.join(", ") : "no server yet"}</dd>
      </dl>
      {error && <ErrorNotice error={error} />}
      {jwks && (
        <div className="field">
          <span className="field-label">Public key (JWKS) to give the server's administrators</span>
          <pre className="detail" data-testid="key-jwks">
            {jwks}
          </pre>
        </div>
      )}
      {pem && (
        <div className="field">
          <span className="field-label">Public key (PEM), for servers that ask for a PEM file (CMS DPC)</span>
          <pre className="detail" data-testid="key-pem">
            {pem}
          </pre>
        </div>
      )}
      {copied && (
        <p className="field-hint" role="status">
          {copied}
        </p>
      )}
      {info.alg === "RS384" && <ProofSignature kid={info.kid} />}
      <div className="actions">
        {jwks === null ? (
          <button
            type="button"
            data-testid="show-jwks"
            onClick={() =>
              commands
                .keyJwks(info.kid)
                .then(setJwks)
                .catch((e: unknown) => setError(toCommandError(e)))
            }
          >
            Show public key
          </button>
        ) : (
          <button
            type="button"
            onClick={() =>
              navigator.clipboard
                .writeText(jwks)
                .then(() => setCopied("Copied. Paste it into an e-mail or the server's registration form."))
                .catch(() => setCopied("Copying is not allowed here: select the text above and copy it."))
            }
          >
            Copy public key (JWKS)
          </button>
        )}
        <button
          type="button"
          onClick={() =>
            saveDialog({
              title: "Save the public key (JWKS)",
              defaultPath: `${fileStem(info.label)}-jwks.json`,
              filters: [{ name: "JWKS", extensions: ["json"] }],
            })
              .then((path) => (path ? commands.saveKeyJwks(info.kid, path).then(() => setCopied(`Saved to ${path}.`)) : null))
              .catch((e: unknown) => setError(toCommandError(e)))
          }
        >
          Save public key…
        </button>
        <button
          type="button"
          data-testid="copy-pem"
          onClick={() =>
            commands
              .keyPublicPem(info.kid)
              .then((text) => {
                // Shown as well as copied, so the text can be selected by hand where copying is not allowed.
                setPem(text);
                // Through a promise, so a webview without a clipboard API lands in the hint below too.
                return Promise.resolve()
                  .then(() => navigator.clipboard.writeText(text))
                  .then(() => setCopied("Copied the PEM. Paste it where the server asks for a public key."))
                  .catch(() => setCopied("Copying is not allowed here: select the PEM above and copy it."));
              })
              .catch((e: unknown) => setError(toCommandError(e)))
          }
        >
          Copy public key (PEM)
        </button>
        <button
          type="button"
          onClick={() =>
            saveDialog({
              title: "Save the public key (PEM)",
              defaultPath: `${fileStem(info.label)}-public.pem`,
              filters: [{ name: "PEM", extensions: ["pem"] }],
            })
              .then((path) =>
                path ? commands.saveKeyPublicPem(info.kid, path).then(() => setCopied(`Saved to ${path}.`)) : null,
              )
              .catch((e: unknown) => setError(toCommandError(e)))
          }
        >
          Save as .pem…
        </button>
        {confirming ? (
          <div className="confirm" role="alertdialog" aria-label="Delete this key?">
            <p>
              Delete “{info.label}” from Haul and from this computer's keychain? This cannot be undone.
              {info.usedBy.length > 0 && ` ${info.usedBy.join(", ")} will no longer be able to sign in until you choose another key.`}
            </p>
            <div className="actions">
              <button
                type="button"
                className="danger"
                data-testid="confirm-delete-key"
                onClick={() =>
                  commands
                    .deleteKey(info.kid)
                    .then(onDeleted)
                    .catch((e: unknown) => setError(toCommandError(e)))
                }
              >
                Delete the key
              </button>
              <button type="button" onClick={() => setConfirming(false)}>
                Keep it
              </button>
            </div>
          </div>
        ) : (
          <button type="button" className="danger push-right" data-testid="delete-key" onClick={() => setConfirming(true)}>
            Delete…
          </button>
        )}
      </div>
    </li>
  );
}

export function KeysPage() {
  const [keys, setKeys] = useState<KeyInfo[] | null>(null);
  const [error, setError] = useState<CommandError | null>(null);
  const [flash, setFlash] = useState<string | null>(null);
  const [label, setLabel] = useState("");
  const [alg, setAlg] = useState<KeyAlgorithm>("ES384");
  const [rsaBits, setRsaBits] = useState<RsaSize>(2048);
  const [importText, setImportText] = useState<string | null>(null);
  const [importName, setImportName] = useState("");
  const [busy, setBusy] = useState(false);
  const [labelError, setLabelError] = useState<string | null>(null);
  const ids = { label: useId(), file: useId(), size: useId() };

  const reload = useCallback(() => {
    commands
      .listKeys()
      .then((k) => {
        setKeys(k);
        setError(null);
      })
      .catch((e: unknown) => setError(toCommandError(e)));
  }, []);
  useEffect(reload, [reload]);

  const run = async (what: () => Promise<KeyInfo>, done: (k: KeyInfo) => string) => {
    const problem = labelProblem(label);
    setLabelError(problem);
    if (problem) return;
    setBusy(true);
    setError(null);
    setFlash(null);
    try {
      const k = await what();
      setFlash(done(k));
      setLabel("");
      setImportText(null);
      setImportName("");
      reload();
    } catch (e) {
      setError(toCommandError(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="page" aria-labelledby="keys-title">
      <header className="page-header">
        <h1 id="keys-title">Keys</h1>
      </header>
      <p className="muted">
        Servers that need sign-in (SMART Backend Services) know your <strong>public</strong> key. Haul signs with the
        private key, which stays in this computer's keychain and is never written to a file.
      </p>
      {flash && (
        <p className="notice notice-ok" role="status" data-testid="flash">
          {flash}
        </p>
      )}
      {error && <ErrorNotice error={error} title="That did not work" />}
      <form className="form card" noValidate onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor={ids.label}>Label</label>
          <input
            id={ids.label}
            data-testid="key-label"
            value={label}
            onChange={(e) => setLabel(e.target.value)}
            aria-invalid={labelError ? true : undefined}
            placeholder="for example Payer production 2026"
          />
          {labelError && <p className="field-error">{labelError}</p>}
        </div>
        <fieldset className="field">
          <legend>New key</legend>
          <label className="choice">
            <input type="radio" name="alg" checked={alg === "ES384"} onChange={() => setAlg("ES384")} />
            ES384 (elliptic curve P-384: small and fast; the usual choice)
          </label>
          <label className="choice">
            <input type="radio" name="alg" checked={alg === "RS384"} onChange={() => setAlg("RS384")} />
            RS384 (RSA: for servers that only accept RSA)
          </label>
          {alg === "RS384" && (
            <div className="field">
              <label htmlFor={ids.size}>RSA key size</label>
              <select
                id={ids.size}
                data-testid="rsa-bits"
                value={rsaBits}
                onChange={(e) => setRsaBits(Number(e.target.value) as RsaSize)}
              >
                {RSA_SIZES.map((bits) => (
                  <option key={bits} value={bits}>
                    {bits} bits{bits === 2048 ? " (the usual size)" : ""}
                  </option>
                ))}
              </select>
              <p className="field-hint">Some servers, e.g. CMS DPC, ask for 4096. Larger keys take a few seconds to make.</p>
            </div>
          )}
          <div className="actions">
            <button
              type="button"
              className="primary"
              data-testid="generate-key"
              disabled={busy}
              onClick={() =>
                void run(
                  // A size means something for RSA only; the Rust side refuses one for ES384.
                  () => commands.generateKey(alg, alg === "RS384" ? rsaBits : null, label),
                  (k) => `Created “${k.label}” (${k.alg}${k.alg === "RS384" ? `, ${rsaBits} bits` : ""}).`,
                )
              }
            >
              {busy ? "Working…" : "Generate key"}
            </button>
          </div>
        </fieldset>
        <div className="field">
          <label htmlFor={ids.file}>Or import a private key (PEM or JWK file)</label>
          <input
            id={ids.file}
            type="file"
            accept=".pem,.key,.json,.jwk,.txt"
            onChange={(e) => {
              const file = e.target.files?.[0];
              if (!file) return;
              setImportName(file.name);
              file
                .text()
                .then(setImportText)
                .catch(() => setImportText(null));
            }}
          />
          {importText !== null && (
            <div className="actions">
              <button
                type="button"
                disabled={busy}
                onClick={() =>
                  void run(
                    () => commands.importKey(importText, label),
                    (k) => `Imported “${k.label}” from ${importName}. The file itself was not copied anywhere.`,
                  )
                }
              >
                Import {importName}
              </button>
            </div>
          )}
        </div>
      </form>
      {keys !== null && keys.length === 0 && (
        <div className="empty" data-testid="no-keys">
          <p>No keys yet.</p>
        </div>
      )}
      <ul className="key-list">
        {keys?.map((k) => (
          <KeyCard
            key={k.kid}
            info={k}
            onDeleted={(servers) => {
              setFlash(
                `Deleted “${k.label}”.${servers.length > 0 ? ` ${servers.join(", ")} now ${servers.length === 1 ? "needs" : "need"} another key.` : ""}`,
              );
              reload();
            }}
          />
        ))}
      </ul>
    </section>
  );
}

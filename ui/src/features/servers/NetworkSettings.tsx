// A saved server's network settings for hospitals' and payers' networks: a proxy of its own (address, user
// name, password) and a client certificate for servers that ask for one. Each is saved on its own, like the CA
// file. Passwords go to Rust once, on their way to the OS keychain, and are never shown again: the page only
// learns that one is saved. The certificate file is read once; the page shows its subject and expiry.
import { open as openDialog } from "@tauri-apps/plugin-dialog";
import { useId, useState } from "react";
import { commands, toCommandError, type Server } from "../../ipc/commands";

interface Props {
  server: Server;
  /** The server as saved with its new settings, so the page shows what is saved. */
  onChanged: (server: Server) => void | Promise<void>;
}

const PAC_HINT =
  "Leave it empty to use this computer's proxy settings, an automatic configuration (PAC) file included (on Linux, GNOME's Settings → Network → Proxy). Here, enter a proxy's own address.";

/** The date part of an RFC 3339 time, as the certificate's expiry is shown. */
const day = (rfc3339: string) => rfc3339.slice(0, 10);

export function NetworkSettings({ server, onChanged }: Props) {
  return (
    <fieldset className="field" data-testid="network-settings">
      <legend>Network (only if your organisation asks for it)</legend>
      <ProxyFields server={server} onChanged={onChanged} />
      <ClientCertificateField server={server} onChanged={onChanged} />
    </fieldset>
  );
}

function ProxyFields({ server, onChanged }: Props) {
  const id = useId();
  const [url, setUrl] = useState(server.proxy?.url ?? "");
  const [username, setUsername] = useState(server.proxy?.username ?? "");
  const [password, setPassword] = useState("");
  const [passwordSaved, setPasswordSaved] = useState(server.proxy?.passwordSaved ?? false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const apply = async (saved: Server) => {
    setUrl(saved.proxy?.url ?? "");
    setUsername(saved.proxy?.username ?? "");
    setPasswordSaved(saved.proxy?.passwordSaved ?? false);
    await onChanged(saved);
  };

  const save = async () => {
    setBusy(true);
    setError(null);
    try {
      const proxy = url.trim()
        ? { url, username: username.trim() || undefined, password: password ? password : undefined }
        : null;
      const saved = await commands.setServerProxy(server.id, proxy);
      setPassword("");
      await apply(saved);
    } catch (e) {
      setError(toCommandError(e).message);
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    setBusy(true);
    setError(null);
    try {
      setPassword("");
      await apply(await commands.setServerProxy(server.id, null));
    } catch (e) {
      setError(toCommandError(e).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="field">
      <label htmlFor={`${id}-url`}>Proxy</label>
      <input
        id={`${id}-url`}
        data-testid="server-proxy-url"
        value={url}
        placeholder="http://proxy.hospital.example:8080"
        spellCheck={false}
        onChange={(e) => setUrl(e.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={`${id}-hint`}
      />
      <label htmlFor={`${id}-user`}>Proxy user name</label>
      <input
        id={`${id}-user`}
        data-testid="server-proxy-username"
        value={username}
        autoComplete="off"
        spellCheck={false}
        onChange={(e) => setUsername(e.target.value)}
      />
      <label htmlFor={`${id}-password`}>Proxy password</label>
      <input
        id={`${id}-password`}
        data-testid="server-proxy-password"
        type="password"
        value={password}
        autoComplete="new-password"
        placeholder={passwordSaved ? "Saved in the keychain; type to replace it" : ""}
        onChange={(e) => setPassword(e.target.value)}
      />
      {passwordSaved && (
        <p className="field-hint" data-testid="proxy-password-saved">
          The proxy password is saved in this computer's keychain.
        </p>
      )}
      <div className="input-with-button">
        <button type="button" data-testid="save-proxy" disabled={busy} onClick={() => void save()}>
          Save proxy
        </button>
        {server.proxy && (
          <button type="button" data-testid="remove-proxy" disabled={busy} onClick={() => void remove()}>
            Remove proxy
          </button>
        )}
      </div>
      {error ? (
        <p className="field-error" role="alert" data-testid="error-proxy">
          {error}
        </p>
      ) : (
        <p id={`${id}-hint`} className="field-hint">
          {PAC_HINT} The password is sent to the proxy only, never to the server.
        </p>
      )}
    </div>
  );
}

function ClientCertificateField({ server, onChanged }: Props) {
  const id = useId();
  const [password, setPassword] = useState("");
  const [certificate, setCertificate] = useState(server.clientCertificate ?? null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const save = async (path: string | null) => {
    setBusy(true);
    setError(null);
    try {
      const saved = await commands.setServerClientCertificate(server.id, path, path && password ? password : null);
      setPassword("");
      setCertificate(saved.clientCertificate ?? null);
      await onChanged(saved);
    } catch (e) {
      // The saved certificate (if any) stays; the message names the chosen file and what is wrong with it.
      setError(toCommandError(e).message);
    } finally {
      setBusy(false);
    }
  };

  const choose = async () => {
    try {
      const picked = await openDialog({ multiple: false, directory: false, title: "Client certificate file" });
      if (typeof picked === "string") await save(picked);
    } catch (e) {
      setError(toCommandError(e).message);
    }
  };

  return (
    <div className="field">
      <label htmlFor={`${id}-password`}>Client certificate (only if the server asks for one)</label>
      {certificate && (
        <p className="field-hint" data-testid="client-certificate">
          {certificate.fileName}: {certificate.subject}, valid until {day(certificate.notAfter)}
          {certificate.expired && <strong data-testid="client-certificate-expired"> — expired: the server will refuse it</strong>}
        </p>
      )}
      <input
        id={`${id}-password`}
        data-testid="client-certificate-password"
        type="password"
        value={password}
        autoComplete="off"
        placeholder="Password of a .p12 or .pfx file (before choosing it)"
        onChange={(e) => setPassword(e.target.value)}
      />
      <div className="input-with-button">
        <button type="button" data-testid="choose-client-certificate" disabled={busy} onClick={() => void choose()}>
          Choose file…
        </button>
        {certificate && (
          <button type="button" data-testid="remove-client-certificate" disabled={busy} onClick={() => void save(null)}>
            Remove
          </button>
        )}
      </div>
      {error ? (
        <p className="field-error" role="alert" data-testid="error-clientCertificate">
          {error}
        </p>
      ) : (
        <p className="field-hint">
          A PEM file with the certificate and its private key, or a .p12/.pfx file with its password. Haul reads it
          once and keeps it in this computer's keychain, for this server only.
        </p>
      )}
    </div>
  );
}

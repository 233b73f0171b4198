// A saved server's CA certificate file, for servers whose certificates are signed by their organisation's own
// certificate authority. Set on its own, as soon as it is chosen (like the server type, after the server is
// saved): Rust checks the file holds a PEM certificate and keeps only its path, reading it again whenever Haul
// connects, so a file IT renews in place is used next time.
import { open as openDialog } from "@tauri-apps/plugin-dialog";
import { useId, useState } from "react";
import { commands, toCommandError, type Server } from "../../ipc/commands";

interface Props {
  server: Server;
  /** The server as saved with its new CA file (or none), so the page shows what is saved. */
  onChanged: (server: Server) => void | Promise<void>;
}

export function CaFileField({ server, onChanged }: Props) {
  const id = useId();
  const [caFile, setCaFile] = useState(server.caFile ?? null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const save = async (path: string | null) => {
    setBusy(true);
    setError(null);
    try {
      const saved = await commands.setServerCaFile(server.id, path);
      setCaFile(saved.caFile ?? null);
      await onChanged(saved);
    } catch (e) {
      // The saved file (if any) stays; the message names the chosen file and what is wrong with it.
      setError(toCommandError(e).message);
    } finally {
      setBusy(false);
    }
  };

  const choose = async () => {
    try {
      // No filter on the name: IT departments hand these out as .pem, .crt, .cer or no extension at all.
      const picked = await openDialog({ multiple: false, directory: false, title: "CA certificate file" });
      if (typeof picked === "string") await save(picked);
    } catch (e) {
      setError(toCommandError(e).message);
    }
  };

  return (
    <div className="field">
      <label htmlFor={id}>CA certificate file (only if your organisation uses its own certificate authority)</label>
      <div className="input-with-button">
        <input
          id={id}
          data-testid="server-ca-file"
          readOnly
          value={caFile ?? ""}
          placeholder="None: the computer's own list of authorities is used"
          spellCheck={false}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? `${id}-error` : undefined}
        />
        <button type="button" data-testid="choose-ca-file" disabled={busy} onClick={() => void choose()}>
          Choose file…
        </button>
        {caFile && (
          <button type="button" data-testid="remove-ca-file" disabled={busy} onClick={() => void save(null)}>
            Remove
          </button>
        )}
      </div>
      {error ? (
        <p id={`${id}-error`} className="field-error" role="alert" data-testid="error-caFile">
          {error}
        </p>
      ) : (
        <p className="field-hint">
          If Haul says this server's certificate is signed by an authority this computer does not trust, choose the CA
          certificate file (PEM) your IT department gives you. Haul uses it for this server only.
        </p>
      )}
    </div>
  );
}

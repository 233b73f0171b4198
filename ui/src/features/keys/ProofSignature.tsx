// Some portals (CMS DPC) take a public key only with a signature, made with the private key, of a file they
// hand out. The private key never leaves the keychain, so Haul signs the file itself and shows the signature
// (base64, as `openssl base64` writes it) to paste into the portal.
import { open as openDialog } from "@tauri-apps/plugin-dialog";
import { useState } from "react";
import { commands, toCommandError, type CommandError } from "../../ipc/commands";
import { ErrorNotice } from "../shell/ErrorNotice";

export function ProofSignature({ kid }: { kid: string }) {
  const [signature, setSignature] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [error, setError] = useState<CommandError | null>(null);
  const sign = async () => {
    setError(null);
    try {
      const path = await openDialog({ title: "The file the server asks you to sign (for DPC: snippet.txt)" });
      if (typeof path !== "string") return;
      const text = await commands.signFileWithKey(kid, path);
      setSignature(text);
      setNote(`Signed ${path.split(/[\\/]/).pop() ?? path}. Paste the signature where the portal asks for it.`);
      await navigator.clipboard.writeText(text).then(
        () => setNote((n) => `${n ?? ""} It is copied.`),
        () => undefined,
      );
    } catch (e) {
      setError(toCommandError(e));
    }
  };
  return (
    <div className="field">
      <button type="button" data-testid="sign-file" onClick={() => void sign()}>
        Sign a file for the server…
      </button>
      <p className="field-hint">
        For portals that ask for a signature of a file they give you when you upload the public key (CMS DPC's
        snippet.txt).
      </p>
      {error && <ErrorNotice error={error} title="Could not sign the file" />}
      {signature && (
        <>
          <pre className="detail" data-testid="proof-signature">
            {signature}
          </pre>
          {note && (
            <p className="field-hint" role="status">
              {note}
            </p>
          )}
        </>
      )}
    </div>
  );
}

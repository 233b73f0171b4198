// The demo server registers a key on request (a real server's administrators do it by hand): one button that
// sends the public key and fills in the client ID the demo issues.
import { useState } from "react";
import { commands, toCommandError, type CommandError } from "../../ipc/commands";

interface Props {
  /** The chosen key; "" disables the button. */
  kid: string;
  onRegistered: (clientId: string) => void;
  onError: (error: CommandError) => void;
}

export function DemoKeyRegistration({ kid, onRegistered, onError }: Props) {
  const [registered, setRegistered] = useState<string | null>(null);
  return (
    <div className="actions">
      <button
        type="button"
        data-testid="register-with-demo"
        disabled={kid === ""}
        onClick={() =>
          commands
            .registerKeyWithDemo(kid)
            .then((clientId) => {
              onRegistered(clientId);
              setRegistered(`Registered. The demo server issued the client ID ${clientId}.`);
            })
            .catch((e: unknown) => onError(toCommandError(e)))
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
  );
}

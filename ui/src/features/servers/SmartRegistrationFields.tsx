// The server form's fields for SMART registrations that differ from "the server holds our JWKS": a key id
// the server assigned (CMS DPC shows one after the public key is uploaded) and a JWKS URL the server fetches
// the key from (Epic's backend apps register one). Both are checked by the engine when the form is saved.
import { useId } from "react";

export interface SmartRegistrationValues {
  /** The key id the server assigned; "" sends the key's own. */
  assertionKid: string;
  /** The JWKS URL registered with the server; "" sends none. */
  jku: string;
}

interface Props {
  values: SmartRegistrationValues;
  errors: Partial<Record<keyof SmartRegistrationValues, string>>;
  onChange: (key: keyof SmartRegistrationValues, value: string) => void;
  /** Opened from the start when either is set (or the server's kind needs one). */
  open: boolean;
}

export function SmartRegistrationFields({ values, errors, onChange, open }: Props) {
  const ids = { kid: useId(), jku: useId() };
  const error = (key: keyof SmartRegistrationValues, id: string) =>
    errors[key] && (
      <p id={`${id}-error`} className="field-error" data-testid={`error-${key}`}>
        {errors[key]}
      </p>
    );
  return (
    <details className="field" open={open || values.assertionKid !== "" || values.jku !== ""}>
      <summary>How the server registered the key (optional)</summary>
      <div className="form">
        <div className="field">
          <label htmlFor={ids.kid}>Key ID given by the server</label>
          <input
            id={ids.kid}
            data-field="assertionKid"
            data-testid="server-assertion-kid"
            value={values.assertionKid}
            spellCheck={false}
            autoCapitalize="off"
            aria-invalid={errors.assertionKid ? true : undefined}
            aria-describedby={errors.assertionKid ? `${ids.kid}-error` : undefined}
            onChange={(e) => onChange("assertionKid", e.target.value)}
            placeholder="the key's own ID when empty"
          />
          {error("assertionKid", ids.kid) || (
            <p className="field-hint">
              Some servers name your public key themselves once you upload it (CMS DPC shows a key ID). Paste it here.
            </p>
          )}
        </div>
        <div className="field">
          <label htmlFor={ids.jku}>JWKS URL registered with the server</label>
          <input
            id={ids.jku}
            data-field="jku"
            data-testid="server-jku"
            value={values.jku}
            spellCheck={false}
            autoCapitalize="off"
            aria-invalid={errors.jku ? true : undefined}
            aria-describedby={errors.jku ? `${ids.jku}-error` : undefined}
            onChange={(e) => onChange("jku", e.target.value)}
            placeholder="https://keys.example.org/haul/jwks.json"
          />
          {error("jku", ids.jku) || (
            <p className="field-hint">
              For servers that take a web address for your keys instead of the keys (Epic). Publish the public JWKS
              from the Keys page at an https address you control, register that address with the server, and enter
              it here: Haul then names it (as jku) each time it signs in.
            </p>
          )}
        </div>
      </div>
    </details>
  );
}

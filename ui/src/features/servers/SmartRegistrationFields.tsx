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

/** One of the two fields: a labelled one-line input with its hint, or its error in the hint's place. */
function RegistrationField(props: {
  field: keyof SmartRegistrationValues;
  testId: string;
  label: string;
  placeholder: string;
  hint: string;
  value: string;
  error?: string;
  onChange: (key: keyof SmartRegistrationValues, value: string) => void;
}) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      <input
        id={id}
        data-field={props.field}
        data-testid={props.testId}
        value={props.value}
        spellCheck={false}
        autoCapitalize="off"
        aria-invalid={props.error ? true : undefined}
        aria-describedby={props.error ? `${id}-error` : undefined}
        onChange={(e) => props.onChange(props.field, e.target.value)}
        placeholder={props.placeholder}
      />
      {props.error ? (
        <p id={`${id}-error`} className="field-error" data-testid={`error-${props.field}`}>
          {props.error}
        </p>
      ) : (
        <p className="field-hint">{props.hint}</p>
      )}
    </div>
  );
}

export function SmartRegistrationFields({ values, errors, onChange, open }: Props) {
  return (
    <details className="field" open={open || values.assertionKid !== "" || values.jku !== ""}>
      <summary>How the server registered the key (optional)</summary>
      <div className="form">
        <RegistrationField
          field="assertionKid"
          testId="server-assertion-kid"
          label="Key ID given by the server"
          placeholder="the key's own ID when empty"
          hint="Some servers name your public key themselves once you upload it (CMS DPC shows a key ID). Paste it here."
          value={values.assertionKid}
          error={errors.assertionKid}
          onChange={onChange}
        />
        <RegistrationField
          field="jku"
          testId="server-jku"
          label="JWKS URL registered with the server"
          placeholder="https://keys.example.org/haul/jwks.json"
          hint="For servers that take a web address for your keys instead of the keys (Epic). Publish the public JWKS from the Keys page at an https address you control, register that address with the server, and enter it here: Haul then names it (as jku) each time it signs in."
          value={values.jku}
          error={errors.jku}
          onChange={onChange}
        />
      </div>
    </details>
  );
}

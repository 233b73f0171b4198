// Instant feedback while typing. The Rust side (export_jobs::servers) checks again on save and is the
// authority; these rules mirror it so the user rarely meets the second check.
import type { AuthKind } from "../../ipc/bindings/AuthKind";
import type { SecretStyle } from "../../ipc/bindings/SecretStyle";

export type UrlFeedback =
  | { kind: "ok"; normalized: string; warning?: string }
  | { kind: "error"; message: string };

const LOOPBACK_V4 = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

function isLoopback(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  return host === "localhost" || host.endsWith(".localhost") || LOOPBACK_V4.test(host) || host === "::1";
}

export function checkBaseUrl(input: string): UrlFeedback {
  const text = input.trim();
  if (text === "") {
    return { kind: "error", message: "Enter the server's FHIR base URL, for example https://ehr.example.org/fhir." };
  }
  if (!/^[a-z][a-z0-9+.-]*:/i.test(text)) {
    return {
      kind: "error",
      message: `“${text}” is not a complete web address. It should start with https://, for example https://${text}.`,
    };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return {
      kind: "error",
      message: `“${text}” is not a web address. A FHIR base URL looks like https://ehr.example.org/fhir.`,
    };
  }
  const scheme = url.protocol.replace(/:$/, "");
  if (scheme !== "https" && scheme !== "http") {
    return {
      kind: "error",
      message: `Haul talks to FHIR servers over https:// (or http://); “${scheme}:” addresses are not supported.`,
    };
  }
  if (url.hostname === "") {
    return { kind: "error", message: "The address has no server name after https://." };
  }
  if (url.username !== "" || url.password !== "") {
    return {
      kind: "error",
      message:
        "Leave the user name and password out of the address: Haul would have to store them in plain text. Use SMART Backend Services authorization instead.",
    };
  }
  if (url.search !== "" || url.hash !== "" || text.includes("?") || text.includes("#")) {
    return {
      kind: "error",
      message: "A FHIR base URL ends at the path (like https://ehr.example.org/fhir); remove the part from ? or # on.",
    };
  }
  const normalized = url.href.replace(/\/+$/, "");
  if (scheme === "http" && !isLoopback(url.hostname)) {
    return {
      kind: "ok",
      normalized,
      warning:
        "This address uses http://, so data, patient records included, would cross the network unencrypted. Use https:// unless this is a test server on a private network.",
    };
  }
  return { kind: "ok", normalized };
}

export interface ServerFormValues {
  name: string;
  baseUrl: string;
  auth: AuthKind;
  clientId: string;
  scope: string;
  /** Storage origins trusted with the token, one per line as typed. */
  trustedOrigins: string;
  /** Client secret: sent in an Authorization header (basic) or as form fields (post). */
  secretStyle: SecretStyle;
  /** Client secret: extra token request fields, one `name=value` per line as typed. */
  tokenParams: string;
  /** The token endpoint as typed; empty: found from the server. */
  tokenUrl: string;
  /** SMART: the key id the server assigned, and the registered JWKS URL (see SmartRegistrationFields). */
  assertionKid: string;
  jku: string;
}

export type ServerFormErrors = Partial<
  Record<
    "name" | "baseUrl" | "clientId" | "scope" | "trustedOrigins" | "tokenParams" | "tokenUrl" | "assertionKid" | "jku",
    string
  >
>;

/** The sign-in methods in words, as the list and the form name them. */
export const SIGN_IN_LABELS: Record<AuthKind, string> = {
  open: "Open (no sign-in)",
  smart_backend: "SMART Backend Services",
  client_secret: "Client ID and secret",
  bearer_token: "Bearer token",
};

/** Methods whose token is sent to the server (and so may go to trusted storage addresses too). */
export const sendsToken = (auth: AuthKind) => auth !== "open";
/** Methods with a token endpoint, a client ID and a scope. */
export const usesTokenEndpoint = (auth: AuthKind) => auth === "smart_backend" || auth === "client_secret";
/** Methods whose secret is saved in the keychain from this form. */
export const usesSecret = (auth: AuthKind) => auth === "client_secret" || auth === "bearer_token";

/** Form fields Haul sets itself (mirrors bulk_client::check_token_param, which decides on save). */
const RESERVED_TOKEN_PARAMS = ["grant_type", "client_id", "client_secret", "client_assertion", "client_assertion_type"];

export type TokenParamsParse = { kind: "ok"; params: Array<[string, string]> } | { kind: "error"; message: string };

/** The extra token parameters field: one `name=value` per line, blank lines skipped, both sides trimmed. */
export function parseTokenParams(text: string): TokenParamsParse {
  const params: Array<[string, string]> = [];
  const lines = text.split(/\r?\n/);
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === "") continue;
    const eq = line.indexOf("=");
    const name = eq < 0 ? "" : line.slice(0, eq).trim();
    if (name === "") {
      return { kind: "error", message: `Line ${index + 1} (“${line}”) is not name=value, as in audience=https://api.example.org.` };
    }
    if (name === "scope") return { kind: "error", message: "Set the scope in its own field, not as an extra token parameter." };
    if (RESERVED_TOKEN_PARAMS.includes(name)) {
      return { kind: "error", message: `“${name}” is set by Haul itself and cannot be an extra token parameter.` };
    }
    if (/\s/.test(name)) return { kind: "error", message: `“${name}” is not a parameter name: names have no spaces.` };
    params.push([name, line.slice(eq + 1).trim()]);
  }
  return { kind: "ok", params };
}

/** Saved parameters back into the field's text. */
export function formatTokenParams(params: Array<[string, string]>): string {
  return params.map(([name, value]) => `${name}=${value}`).join("\n");
}

/**
 * The lines of the trusted-storage field as the list Rust receives: trimmed, blank lines dropped. Whether each
 * is an origin is left to Rust (bulk_client's rule), whose message then shows under the field.
 */
export function parseTrustedOrigins(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "");
}

export const DEFAULT_SCOPE = "system/*.read";

/** The `<name>` parts of a text that the user fills in (the server profiles' rule: lower-case letters, digits, dashes). */
export function placeholdersIn(text: string): string[] {
  return [...new Set([...text.matchAll(/<[a-z0-9-]+>/g)].map((match) => match[0]))];
}

/**
 * A field filled from a server type may still hold its placeholders (`<tenant-id>`). Caught here because a
 * placeholder in a URL's path is a valid URL and would only fail when Haul signs in.
 */
function placeholderProblem(text: string): string | undefined {
  const left = placeholdersIn(text);
  if (left.length === 0) return undefined;
  const plural = left.length > 1 ? "s" : "";
  return `Replace ${left.map((p) => `“${p}”`).join(" and ")} with your server's own value${plural}.`;
}

export function validateServerForm(values: ServerFormValues, otherNames: string[]): ServerFormErrors {
  const errors: ServerFormErrors = {};
  // The first problem found in a field is the one shown.
  const note = (field: keyof ServerFormErrors, message: string | undefined) => {
    if (message !== undefined && errors[field] === undefined) errors[field] = message;
  };
  const name = values.name.trim();
  if (name === "") {
    errors.name = "Give the server a name, for example “Payer production”.";
  } else if ([...name].length > 100) {
    errors.name = "Keep the name under 100 characters.";
  } else {
    const existing = otherNames.find((other) => other.toLowerCase() === name.toLowerCase());
    if (existing !== undefined) errors.name = `A server named “${existing}” already exists. Choose another name.`;
  }
  note("baseUrl", placeholderProblem(values.baseUrl));
  const url = checkBaseUrl(values.baseUrl);
  if (url.kind === "error") note("baseUrl", url.message);
  if (values.auth === "smart_backend" || values.auth === "client_secret") {
    note("tokenUrl", placeholderProblem(values.tokenUrl));
    note("scope", placeholderProblem(values.scope));
  }
  if (values.auth === "client_secret") {
    if (values.clientId.trim() === "") errors.clientId = "Enter the client ID that came with the client secret.";
    const params = parseTokenParams(values.tokenParams);
    note("tokenParams", params.kind === "error" ? params.message : placeholderProblem(values.tokenParams));
  }
  if (values.auth === "smart_backend") {
    if (values.clientId.trim() === "") {
      errors.clientId = "Enter the client ID that the server's administrators registered for Haul.";
    }
    const bad = values.scope
      .trim()
      .split(/\s+/)
      .find((part) => part !== "" && !part.includes("/"));
    if (bad !== undefined) {
      note(
        "scope",
        `“${bad}” is not a SMART scope. Scopes look like system/*.read or system/Patient.rs, separated by spaces.`,
      );
    }
  }
  return errors;
}

// Instant feedback while typing. The Rust side (export_jobs::servers) checks again on save and is the
// authority; these rules mirror it so the user rarely meets the second check.
import type { AuthKind } from "../../ipc/bindings/AuthKind";

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
}

export type ServerFormErrors = Partial<Record<"name" | "baseUrl" | "clientId" | "scope" | "trustedOrigins", string>>;

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

export function validateServerForm(values: ServerFormValues, otherNames: string[]): ServerFormErrors {
  const errors: ServerFormErrors = {};
  const name = values.name.trim();
  if (name === "") {
    errors.name = "Give the server a name, for example “Payer production”.";
  } else if ([...name].length > 100) {
    errors.name = "Keep the name under 100 characters.";
  } else {
    const existing = otherNames.find((other) => other.toLowerCase() === name.toLowerCase());
    if (existing !== undefined) errors.name = `A server named “${existing}” already exists. Choose another name.`;
  }
  const url = checkBaseUrl(values.baseUrl);
  if (url.kind === "error") errors.baseUrl = url.message;
  if (values.auth === "smart_backend") {
    if (values.clientId.trim() === "") {
      errors.clientId = "Enter the client ID that the server's administrators registered for Haul.";
    }
    const bad = values.scope
      .trim()
      .split(/\s+/)
      .find((part) => part !== "" && !part.includes("/"));
    if (bad !== undefined) {
      errors.scope = `“${bad}” is not a SMART scope. Scopes look like system/*.read or system/Patient.rs, separated by spaces.`;
    }
  }
  return errors;
}

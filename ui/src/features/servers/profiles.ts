// Filling the server form from a server profile ("what kind of server is this?"). Kept apart from the form so
// the rules can be tested alone: what a profile sets, what it leaves to the user, and which texts still hold
// parts to fill in.
import type { KeyRegistration } from "../../ipc/bindings/KeyRegistration";
import type { ServerProfile } from "../../ipc/bindings/ServerProfile";
import { DEFAULT_SCOPE, formatTokenParams, type ServerFormValues } from "./validation";

/** What the form holds that a profile may change: its values, and the secret typed but not yet saved. */
export interface ProfileFill {
  values: ServerFormValues;
  secret: string;
}

/**
 * The form after choosing `profile`. The sign-in settings are the profile's; the name, the base URL, the client
 * ID and the secret are kept when the user typed them, and replaced when `previous` (the profile chosen before)
 * had filled them, so switching from one sandbox to another server type leaves nothing of the sandbox behind.
 */
export function fillFromProfile(
  profile: ServerProfile,
  previous: ServerProfile | undefined,
  { values, secret }: ProfileFill,
): ProfileFill {
  const signIn = profile.sign_in;
  const credentials = profile.test_credentials;
  const ours = (text: string, filledBefore: string | null | undefined) =>
    text.trim() === "" || text === filledBefore;
  return {
    values: {
      ...values,
      name: ours(values.name, previous?.name) ? profile.name : values.name,
      baseUrl: profile.base_url ?? (ours(values.baseUrl, previous?.base_url) ? "" : values.baseUrl),
      auth: signIn.method,
      clientId:
        credentials?.client_id ??
        (ours(values.clientId, previous?.test_credentials?.client_id) ? "" : values.clientId),
      // SMART servers that name no scope get SMART's usual one; a client-secret scope is the server's own word.
      scope: signIn.scope ?? (signIn.method === "smart_backend" ? DEFAULT_SCOPE : ""),
      tokenUrl: signIn.token_url ?? "",
      secretStyle: signIn.secret_style ?? "basic",
      tokenParams: formatTokenParams(signIn.token_params),
    },
    secret:
      credentials?.client_secret ?? (ours(secret, previous?.test_credentials?.client_secret) ? "" : secret),
  };
}

const REGISTRATION: Record<KeyRegistration, { how: string; button: string }> = {
  pem: { how: "registered as a PEM public key", button: "“Copy public key (PEM)”" },
  jwks_url: {
    how: "registered as a JWKS at a public URL of yours",
    button: "“Copy public key (JWKS)”, and publish it at that URL",
  },
  jwks_file: { how: "registered as a JWKS file", button: "“Copy public key (JWKS)”" },
};

/**
 * One line pointing at the Keys page when the server wants something the Keys page's defaults may not give (a
 * key size, a PEM, a JWKS URL); null when any key will do.
 */
export function keyHint(profile: ServerProfile): string | null {
  const key = profile.sign_in.key;
  if (key === null || (key.registers === "jwks_file" && key.rsa_bits === null)) return null;
  const size = key.rsa_bits !== null ? ` of ${key.rsa_bits} bits` : "";
  const { how, button } = REGISTRATION[key.registers];
  return `This server wants an ${key.algorithm} key${size}, ${how}: generate one on the Keys page and use ${button}.`;
}

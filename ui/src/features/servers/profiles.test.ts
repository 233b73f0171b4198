import { describe, expect, it } from "vitest";
import { azure, bcdaSandbox, dpcSandbox, epic, standard } from "./profileFixtures";
import { fillFromProfile, keyHint } from "./profiles";
import type { ServerFormValues } from "./validation";

const empty: ServerFormValues = {
  name: "",
  baseUrl: "",
  auth: "open",
  clientId: "",
  scope: "system/*.read",
  trustedOrigins: "",
  secretStyle: "basic",
  tokenParams: "",
  tokenUrl: "",
  assertionKid: "",
  jku: "",
};

describe("fillFromProfile", () => {
  it("fills a sandbox's address, sign-in and published credentials", () => {
    const filled = fillFromProfile(bcdaSandbox, undefined, { values: empty, secret: "" });
    expect(filled).toEqual({
      values: {
        ...empty,
        name: "CMS BCDA (sandbox)",
        baseUrl: "https://sandbox.bcda.cms.gov/api/v3",
        auth: "client_secret",
        clientId: "6dc59a4c-sandbox",
        scope: "",
        tokenUrl: "https://sandbox.bcda.cms.gov/auth/token",
        secretStyle: "basic",
      },
      secret: "48fe3a37-sandbox-secret",
    });
  });

  it("keeps what the user typed, and fills the sign-in with its placeholders", () => {
    const typed = { ...empty, name: "Our Azure", baseUrl: "https://ws-fhir.fhir.azurehealthcareapis.com", clientId: "app-1" };
    const filled = fillFromProfile(azure, undefined, { values: typed, secret: "typed secret" });
    expect(filled.values).toMatchObject({
      name: "Our Azure",
      baseUrl: "https://ws-fhir.fhir.azurehealthcareapis.com",
      clientId: "app-1",
      auth: "client_secret",
      tokenUrl: "https://login.microsoftonline.com/<tenant-id>/oauth2/token",
      scope: "https://<workspace>-<fhir-service>.fhir.azurehealthcareapis.com/.default",
      secretStyle: "post",
      tokenParams: "resource=https://<workspace>-<fhir-service>.fhir.azurehealthcareapis.com",
    });
    expect(filled.secret).toBe("typed secret");
  });

  it("leaves nothing of the server type chosen before", () => {
    const sandbox = fillFromProfile(bcdaSandbox, undefined, { values: empty, secret: "" });
    const switched = fillFromProfile(standard, bcdaSandbox, sandbox);
    expect(switched).toEqual({
      values: { ...empty, name: "Other (standard)", auth: "smart_backend", scope: "system/*.read" },
      secret: "",
    });
  });
});

describe("keyHint", () => {
  it("points at the Keys page when the server wants a size, a PEM or a JWKS URL", () => {
    expect(keyHint(dpcSandbox)).toBe(
      "This server wants an RS384 key of 4096 bits, registered as a PEM public key: generate one on the Keys page and use “Copy public key (PEM)”.",
    );
    expect(keyHint(epic)).toContain("registered as a JWKS at a public URL of yours");
    expect(keyHint(epic)).toContain("“Copy public key (JWKS)”, and publish it at that URL");
    expect(keyHint(standard)).toBeNull();
    expect(keyHint(bcdaSandbox)).toBeNull();
  });
});

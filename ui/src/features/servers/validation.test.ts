import { describe, expect, it } from "vitest";
import {
  checkBaseUrl,
  formatTokenParams,
  parseTokenParams,
  parseTrustedOrigins,
  placeholdersIn,
  validateServerForm,
  type ServerFormValues,
} from "./validation";

const form = (over: Partial<ServerFormValues> = {}): ServerFormValues => ({
  name: "Payer",
  baseUrl: "https://ehr.example.org/fhir",
  auth: "open",
  clientId: "",
  scope: "",
  trustedOrigins: "",
  secretStyle: "basic",
  tokenParams: "",
  tokenUrl: "",
  assertionKid: "",
  jku: "",
  ...over,
});

describe("checkBaseUrl", () => {
  it("normalises a good URL", () => {
    expect(checkBaseUrl("  https://ehr.example.org/fhir/ ")).toEqual({
      kind: "ok",
      normalized: "https://ehr.example.org/fhir",
    });
  });

  it("asks for a URL when empty", () => {
    expect(checkBaseUrl("   ")).toMatchObject({ kind: "error", message: expect.stringContaining("Enter the server's") });
  });

  it("explains a missing scheme", () => {
    const r = checkBaseUrl("ehr.example.org/fhir");
    expect(r).toMatchObject({ kind: "error" });
    expect(r.kind === "error" && r.message).toContain("should start with https://");
  });

  it("refuses other schemes, credentials, queries", () => {
    expect(checkBaseUrl("ftp://x.org")).toMatchObject({ message: expect.stringContaining("not supported") });
    const creds = checkBaseUrl("https://bob:hunter2@x.org/fhir");
    expect(creds).toMatchObject({ message: expect.stringContaining("user name and password") });
    expect(creds.kind === "error" && creds.message).not.toContain("hunter2");
    expect(checkBaseUrl("https://x.org/fhir?a=1")).toMatchObject({ kind: "error" });
    expect(checkBaseUrl("https://x.org/fhir#top")).toMatchObject({ kind: "error" });
  });

  it("warns about plain http except on this computer", () => {
    expect(checkBaseUrl("http://ehr.example.org/fhir")).toMatchObject({
      kind: "ok",
      warning: expect.stringContaining("unencrypted"),
    });
    for (const local of ["http://localhost:8080/fhir", "http://127.0.0.1:1/fhir", "http://[::1]:9/fhir"]) {
      const r = checkBaseUrl(local);
      expect(r.kind).toBe("ok");
      expect(r.kind === "ok" && r.warning).toBeUndefined();
    }
  });
});

describe("validateServerForm", () => {
  it("accepts a complete open server", () => {
    expect(validateServerForm(form(), [])).toEqual({});
  });

  it("refuses duplicate names whatever the case", () => {
    expect(validateServerForm(form({ name: " payer " }), ["Payer"]).name).toBe(
      "A server named “Payer” already exists. Choose another name.",
    );
  });

  it("requires a name", () => {
    expect(validateServerForm(form({ name: "" }), []).name).toContain("Give the server a name");
  });

  it("requires a client id for SMART and checks scopes", () => {
    const errors = validateServerForm(form({ auth: "smart_backend", scope: "system/*.rs launch" }), []);
    expect(errors.clientId).toContain("client ID");
    expect(errors.scope).toContain("“launch” is not a SMART scope");
    expect(validateServerForm(form({ auth: "smart_backend", clientId: "c", scope: "" }), [])).toEqual({});
  });
});

describe("placeholders left from a server type", () => {
  it("finds each <name> part once", () => {
    expect(placeholdersIn("https://<workspace>-<fhir-service>.fhir.test/<workspace>")).toEqual([
      "<workspace>",
      "<fhir-service>",
    ]);
    expect(placeholdersIn("a <b> c, x<Y>, <>")).toEqual(["<b>"]);
  });

  it("refuses a base URL, token URL, scope or token parameter that still holds one", () => {
    const azure = form({
      baseUrl: "https://<workspace>.fhir.test",
      auth: "client_secret",
      clientId: "c",
      tokenUrl: "https://login.microsoftonline.com/<tenant-id>/oauth2/token",
      scope: "https://<workspace>.fhir.test/.default",
      tokenParams: "resource=https://<workspace>.fhir.test",
    });
    const errors = validateServerForm(azure, []);
    expect(errors.baseUrl).toBe("Replace “<workspace>” with your server's own value.");
    expect(errors.tokenUrl).toBe("Replace “<tenant-id>” with your server's own value.");
    expect(errors.scope).toContain("“<workspace>”");
    expect(errors.tokenParams).toContain("“<workspace>”");
    // A method without a token endpoint ignores the sign-in fields it does not send.
    expect(validateServerForm({ ...azure, baseUrl: "https://ws.fhir.test", auth: "open" }, [])).toEqual({});
  });
});

describe("parseTrustedOrigins", () => {
  it("gives one trimmed entry per non-blank line", () => {
    expect(parseTrustedOrigins(" https://files.example.com \n\n   \r\nhttps://store.example.net:8443\r\n")).toEqual([
      "https://files.example.com",
      "https://store.example.net:8443",
    ]);
    expect(parseTrustedOrigins("")).toEqual([]);
    expect(parseTrustedOrigins(" \n \n")).toEqual([]);
  });
});

describe("client secret and bearer token", () => {
  it("needs a client ID for a client secret, and takes any scope", () => {
    expect(validateServerForm(form({ auth: "client_secret" }), [])).toEqual({
      clientId: "Enter the client ID that came with the client secret.",
    });
    const azure = form({ auth: "client_secret", clientId: "c", scope: "https://fhir.example.org/.default" });
    expect(validateServerForm(azure, [])).toEqual({});
    expect(validateServerForm(form({ auth: "bearer_token" }), [])).toEqual({});
  });

  it("reads extra token parameters one name=value per line", () => {
    expect(parseTokenParams(" audience = https://a.test \n\n resource=x=y ")).toEqual({
      kind: "ok",
      params: [
        ["audience", "https://a.test"],
        ["resource", "x=y"],
      ],
    });
    expect(parseTokenParams("")).toEqual({ kind: "ok", params: [] });
    expect(parseTokenParams("audience")).toMatchObject({ kind: "error", message: expect.stringContaining("Line 1") });
    expect(parseTokenParams("=x")).toMatchObject({ kind: "error" });
    expect(parseTokenParams("client_secret=x")).toMatchObject({ message: expect.stringContaining("set by Haul itself") });
    expect(parseTokenParams("scope=x")).toMatchObject({ message: expect.stringContaining("own field") });
    const bad = validateServerForm(form({ auth: "client_secret", clientId: "c", tokenParams: "grant_type=x" }), []);
    expect(bad.tokenParams).toContain("set by Haul itself");
    expect(formatTokenParams([["audience", "a"], ["resource", "r"]])).toBe("audience=a\nresource=r");
  });
});

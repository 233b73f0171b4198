// Server profiles for tests, abridged from src-tauri/crates/server-profiles/profiles (the real ones come over IPC).
import type { ServerProfile } from "../../ipc/commands";

const base: Omit<ServerProfile, "id" | "name" | "sign_in"> = {
  vendor: "",
  summary: "",
  sources: [],
  base_url: null,
  base_url_hint: null,
  test_credentials: null,
  groups: [],
  levels: ["system", "patient", "group"],
  refused_params: [],
  since_format: "utc_z",
  quirks: {
    default_since_last: false,
    one_export_at_a_time: false,
    files_need_token_without_flag: false,
    container_param: false,
    files_expire_hours: null,
  },
  notes: [],
};

const signIn = { token_url: null, scope: null, secret_style: null, token_params: [], key: null };

export const bcdaSandbox: ServerProfile = {
  ...base,
  id: "cms-bcda-sandbox",
  name: "CMS BCDA (sandbox)",
  summary: "Synthetic Medicare claims from the Beneficiary Claims Data API sandbox.",
  sources: ["https://bcda.cms.gov/api-documentation/get-a-bearer-token.html"],
  base_url: "https://sandbox.bcda.cms.gov/api/v3",
  sign_in: { ...signIn, method: "client_secret", token_url: "https://sandbox.bcda.cms.gov/auth/token", secret_style: "basic" },
  test_credentials: { client_id: "6dc59a4c-sandbox", client_secret: "48fe3a37-sandbox-secret" },
  groups: [
    { id: "all", label: "All enrollees attributed to you" },
    { id: "runout", label: "Runout: enrollees attributed last year but not this year" },
  ],
  levels: ["patient", "group"],
  notes: ["BCDA rotates its sandbox credentials from time to time.", "Bearer tokens last 20 minutes."],
};

export const azure: ServerProfile = {
  ...base,
  id: "azure-health-data-services",
  name: "Azure Health Data Services",
  summary: "A FHIR service in an Azure Health Data Services workspace.",
  sources: ["https://learn.microsoft.com/en-us/azure/healthcare-apis/fhir/export-data"],
  base_url_hint: "https://<workspace>-<fhir-service>.fhir.azurehealthcareapis.com",
  sign_in: {
    ...signIn,
    method: "client_secret",
    token_url: "https://login.microsoftonline.com/<tenant-id>/oauth2/token",
    scope: "https://<workspace>-<fhir-service>.fhir.azurehealthcareapis.com/.default",
    secret_style: "post",
    token_params: [["resource", "https://<workspace>-<fhir-service>.fhir.azurehealthcareapis.com"]],
  },
  quirks: { ...base.quirks, container_param: true },
};

export const dpcSandbox: ServerProfile = {
  ...base,
  id: "cms-dpc-sandbox",
  name: "CMS DPC (sandbox)",
  base_url: "https://sandbox.dpc.cms.gov/api/v1",
  sign_in: {
    ...signIn,
    method: "smart_backend",
    token_url: "https://sandbox.dpc.cms.gov/api/v1/Token/auth",
    scope: "system/*.*",
    key: { algorithm: "RS384", rsa_bits: 4096, registers: "pem" },
  },
  levels: ["group"],
};

export const epic: ServerProfile = {
  ...base,
  id: "epic",
  name: "Epic",
  base_url_hint: "https://<your-epic-host>/<instance-path>/api/FHIR/R4",
  sign_in: {
    ...signIn,
    method: "smart_backend",
    token_url: "https://<your-epic-host>/<instance-path>/oauth2/token",
    key: { algorithm: "RS384", rsa_bits: null, registers: "jwks_url" },
  },
  levels: ["group"],
};

export const standard: ServerProfile = {
  ...base,
  id: "standard",
  name: "Other (standard)",
  summary: "Any server that follows the HL7 Bulk Data Access IG.",
  base_url_hint: "https://<your-fhir-server>/<base-path>",
  sign_in: { ...signIn, method: "smart_backend" },
};

export const allProfiles = [bcdaSandbox, dpcSandbox, epic, azure, standard];

// Typed calls into the Rust side. Every call goes through `Commands`, the table generated from the Rust
// commands (bindings/commands.ts, written by `cargo test export_bindings_`) with their argument keys and types
// and results: a change on either side that the other does not follow fails the type check.
import { Channel, invoke } from "@tauri-apps/api/core";
import type { Commands } from "./bindings/commands";
import type { ConvertProgress } from "./bindings/ConvertProgress";
import type { Format } from "./bindings/Format";
import type { TablesProgress } from "./bindings/TablesProgress";
import type { ViewChoice } from "./bindings/ViewChoice";
import type { ExportInput } from "./bindings/ExportInput";
import type { ExportPreview } from "./bindings/ExportPreview";
import type { ExportRequest } from "./bindings/ExportRequest";
import type { ExportSummary } from "./bindings/ExportSummary";
import type { GroupPage } from "./bindings/GroupPage";
import type { GroupSummary } from "./bindings/GroupSummary";
import type { JobEvent } from "./bindings/JobEvent";
import type { KeyAlgorithm } from "./bindings/KeyAlgorithm";
import type { KeyInfo } from "./bindings/KeyInfo";
import type { SignInResult } from "./bindings/SignInResult";
import type { SignInTest } from "./bindings/SignInTest";
import type { Cadence } from "./bindings/Cadence";
import type { ProbeStep } from "./bindings/ProbeStep";
import type { PinnedGroup } from "./bindings/PinnedGroup";
import type { ProxyInput } from "./bindings/ProxyInput";
import type { ErrorCode } from "./bindings/ErrorCode";
import type { IpcError } from "./bindings/IpcError";
import type { Server } from "./bindings/Server";
import type { ServerInput } from "./bindings/ServerInput";
import type { ServerProfile } from "./bindings/ServerProfile";
import type { ServerSummary } from "./bindings/ServerSummary";
import type { StartupStatus } from "./bindings/StartupStatus";
import type { StorageSignInInput } from "./bindings/StorageSignInInput";
import type { UrlCheck } from "./bindings/UrlCheck";
import type { ChartProgress } from "./bindings/ChartProgress";
import type { Charts } from "./bindings/Charts";
import type { FindBatch } from "./bindings/FindBatch";
import type { FindSummary } from "./bindings/FindSummary";
import type { FolderOverview } from "./bindings/FolderOverview";
import type { IndexProgress } from "./bindings/IndexProgress";
import type { Located } from "./bindings/Located";
import type { PreviewPage } from "./bindings/PreviewPage";
import type { PreviewRow } from "./bindings/PreviewRow";
import type { ResourceText } from "./bindings/ResourceText";

export type { ErrorCode, IpcError, Server, ServerInput, ServerProfile, ServerSummary, StartupStatus, UrlCheck };
export type { ExportInput, ExportPreview, ExportRequest, ExportSummary, GroupPage, GroupSummary, JobEvent, PinnedGroup };
export type { KeyAlgorithm, KeyInfo, ProbeStep, ProxyInput, SignInResult };
export type { ChartProgress, Charts, FindBatch, FindSummary, FolderOverview, IndexProgress, Located };
export type { PreviewPage, PreviewRow, ResourceText };

/** A channel that hands each message the Rust side sends (progress, events, finds) to `on`. */
function channelOf<T>(on: (message: T) => void): Channel<T> {
  const channel = new Channel<T>();
  channel.onmessage = on;
  return channel;
}

/** An error from a command, normalised: anything that is not our `{code, message}` shape becomes one. */
export class CommandError extends Error {
  readonly code: ErrorCode | "internal";
  readonly detail?: string;
  readonly field?: IpcError["field"];

  constructor(error: IpcError | { code: "internal"; message: string; detail?: string }) {
    super(error.message);
    this.code = error.code;
    this.detail = error.detail;
    this.field = "field" in error ? error.field : undefined;
  }
}

export function toCommandError(raw: unknown): CommandError {
  if (raw instanceof CommandError) return raw;
  if (raw && typeof raw === "object" && "code" in raw && "message" in raw) {
    return new CommandError(raw as IpcError);
  }
  const text = raw instanceof Error ? raw.message : String(raw);
  return new CommandError({
    code: "internal",
    message: "Something unexpected went wrong inside Haul. Try again; if it keeps happening, restart Haul.",
    detail: text,
  });
}

/** The arguments a command takes (its Rust parameters, under Tauri's camelCase keys). */
export type CommandArgs<K extends keyof Commands> = Commands[K]["args"];
/** What a command's promise resolves to. */
export type CommandResult<K extends keyof Commands> = Commands[K]["result"];

/**
 * Calls a command through the table generated from the Rust commands (bindings/commands.ts): a command name,
 * an argument key or a type that the Rust side does not have fails the type check.
 */
async function call<K extends keyof Commands>(name: K, args: CommandArgs<K>): Promise<CommandResult<K>> {
  try {
    return await invoke<CommandResult<K>>(name, args);
  } catch (raw) {
    throw toCommandError(raw);
  }
}

export const commands = {
  startupStatus: () => call("startup_status", {}),
  moveDatabaseAside: () => call("move_database_aside", {}),
  listServers: () => call("list_servers", {}),
  addServer: (input: ServerInput) => call("add_server", { input }),
  updateServer: (id: number, input: ServerInput) => call("update_server", { id, input }),
  removeServer: (id: number) => call("remove_server", { id }),
  /** Sends a client secret or bearer token to the keychain; the result says only that one is saved. */
  setServerSecret: (id: number, secret: string) => call("set_server_secret", { id, secret }),
  /** Records the saved server's CA certificate file (null: none), checked by Rust to hold a PEM certificate. */
  setServerCaFile: (serverId: number, path: string | null) => call("set_server_ca_file", { serverId, path }),
  /** Sets the saved server's own proxy (null: this computer's); a password goes to the keychain, none keeps it. */
  setServerProxy: (serverId: number, proxy: ProxyInput | null) => call("set_server_proxy", { serverId, proxy }),
  /** Reads a client certificate file once into the keychain (null: removes it); the result shows its subject. */
  setServerClientCertificate: (serverId: number, path: string | null, password: string | null) =>
    call("set_server_client_certificate", { serverId, path, password }),
  checkServerUrl: (url: string) => call("check_server_url", { url }),
  /** With `serverId`, through that saved server's CA file and network settings. */
  testConnection: (baseUrl: string, serverId: number | null = null) => call("test_connection", { baseUrl, serverId }),
  /** The saved server's whole chain: capability, sign-in, a test export cancelled at once. */
  probeServer: (serverId: number) => call("probe_server", { serverId }),
  /** The kinds of server Haul knows, in the order the form's "Server type" lists them. */
  listServerProfiles: () => call("list_server_profiles", {}),
  /** Records which kind a saved server is (null: none chosen), so exports apply its quirks. */
  setServerProfile: (serverId: number, profileId: string | null) =>
    call("set_server_profile", { serverId, profileId }),
  previewExport: (serverId: number, request: ExportRequest) => call("preview_export", { serverId, request }),
  startExport: (input: ExportInput, onEvent: (e: JobEvent) => void) =>
    call("start_export", { input, onEvent: channelOf(onEvent) }),
  watchExport: (id: number, onEvent: (e: JobEvent) => void) =>
    call("watch_export", { id, onEvent: channelOf(onEvent) }),
  resumeExport: (id: number, onEvent: (e: JobEvent) => void) =>
    call("resume_export", { id, onEvent: channelOf(onEvent) }),
  cancelExport: (id: number) => call("cancel_export", { id }),
  listExports: (limit: number) => call("list_exports", { limit }),
  convertExport: (id: number, outDir: string | null, onProgress: (p: ConvertProgress) => void) =>
    call("convert_export", { id, outDir, onProgress: channelOf(onProgress) }),
  convertExportToDelta: (id: number, target: string, onProgress: (p: ConvertProgress) => void) =>
    call("convert_export_to_delta", { id, target, onProgress: channelOf(onProgress) }),
  vacuumDeltaTables: (target: string, dryRun: boolean, asOfMs: number | null) =>
    call("vacuum_delta_tables", { target, dryRun, asOfMs }),
  cancelConversion: (id: number) => call("cancel_conversion", { id }),
  listViews: () => call("list_views", {}),
  readView: (path: string) => call("read_view", { path }),
  previewView: (id: number, view: ViewChoice) => call("preview_view", { id, view }),
  previewViewInFolder: (folder: string, view: ViewChoice) => call("preview_view_in_folder", { folder, view }),
  makeTables: (id: number, views: ViewChoice[], formats: Format[], csvBom: boolean, onProgress: (p: TablesProgress) => void) =>
    call("make_tables", { id, views, formats, csvBom, onProgress: channelOf(onProgress) }),
  cancelTables: (id: number) => call("cancel_tables", { id }),
  openTablesFolder: (id: number) => call("open_tables_folder", { id }),
  searchGroups: (serverId: number, name: string | null, pageUrl: string | null) =>
    call("search_groups", { serverId, name, pageUrl }),
  listPinnedGroups: (serverId: number) => call("list_pinned_groups", { serverId }),
  pinGroup: (serverId: number, group: GroupSummary) => call("pin_group", { serverId, group }),
  unpinGroup: (serverId: number, groupId: string) => call("unpin_group", { serverId, groupId }),
  listStorageSignIns: () => call("list_storage_sign_ins", {}),
  saveStorageSignIn: (input: StorageSignInInput) => call("save_storage_sign_in", { input }),
  testStorageSignIn: (input: StorageSignInInput) => call("test_storage_sign_in", { input }),
  removeStorageSignIn: (id: number) => call("remove_storage_sign_in", { id }),
  listKeys: () => call("list_keys", {}),
  /** `rsaBits` for RS384 only (2048, 3072 or 4096); null for ES384. */
  generateKey: (alg: KeyAlgorithm, rsaBits: number | null, label: string) =>
    call("generate_key", { alg, rsaBits, label }),
  importKey: (text: string, label: string) => call("import_key", { text, label }),
  keyJwks: (kid: string) => call("key_jwks", { kid }),
  deleteKey: (kid: string) => call("delete_key", { kid }),
  registerKeyWithDemo: (kid: string) => call("register_key_with_demo", { kid }),
  saveKeyJwks: (kid: string, path: string) => call("save_key_jwks", { kid, path }),
  keyPublicPem: (kid: string) => call("key_public_pem", { kid }),
  saveKeyPublicPem: (kid: string, path: string) => call("save_key_public_pem", { kid, path }),
  signFileWithKey: (kid: string, path: string) => call("sign_file_with_key", { kid, path }),
  cancelBlockingExport: (id: number) => call("cancel_blocking_export", { id }),
  compareExports: (a: number, b: number) => call("compare_exports", { a, b }),
  scheduleExport: (exportId: number, cadence: Cadence, at: string) => call("schedule_export", { exportId, cadence, at }),
  listSchedules: () => call("list_schedules", {}),
  removeSchedule: (id: number) => call("remove_schedule", { id }),
  testSignIn: (test: SignInTest) => call("test_sign_in", { test }),
  rerunExport: (id: number, incremental: boolean, onEvent: (e: JobEvent) => void) =>
    call("rerun_export", { id, incremental, onEvent: channelOf(onEvent) }),
  exportText: (id: number, which: "log" | "errors") => call("export_text", { id, which }),
  openExportFolder: (id: number) => call("open_export_folder", { id }),
  openParquetFolder: (id: number) => call("open_parquet_folder", { id }),
  exportDataset: (id: number) => call("export_dataset", { id }),
  openDatasetFolder: (id: number) => call("open_dataset_folder", { id }),
  deleteExportFiles: (id: number) => call("delete_export_files", { id }),
  browseOpen: (folder: string) => call("browse_open", { folder }),
  browseIndex: (folder: string, resourceType: string, onProgress: (p: IndexProgress) => void) =>
    call("browse_index", { folder, resourceType, onProgress: channelOf(onProgress) }),
  browsePage: (folder: string, resourceType: string, start: number, count: number) =>
    call("browse_page", { folder, resourceType, start, count }),
  browseSaveCsv: (folder: string, resourceType: string, rows: number[], path: string) =>
    call("browse_save_csv", { folder, resourceType, rows, path }),
  browseRows: (folder: string, resourceType: string, rows: number[]) =>
    call("browse_rows", { folder, resourceType, rows }),
  browseResource: (folder: string, resourceType: string, row: number) =>
    call("browse_resource", { folder, resourceType, row }),
  browseFind: (folder: string, resourceType: string, query: string, task: string, onBatch: (b: FindBatch) => void) =>
    call("browse_find", { folder, resourceType, query, task, onBatch: channelOf(onBatch) }),
  browseFindId: (folder: string, resourceType: string, id: string) =>
    call("browse_find_id", { folder, resourceType, id }),
  browseLookup: (folder: string, reference: string) => call("browse_lookup", { folder, reference }),
  browseCharts: (folder: string, task: string, onProgress: (p: ChartProgress) => void) =>
    call("browse_charts", { folder, task, onProgress: channelOf(onProgress) }),
  browseStop: (task: string) => call("browse_stop", { task }),
};

// Typed calls into the Rust side. Argument and result types come from the generated bindings, so a
// change on either side that the other does not follow fails the type check.
import { Channel, invoke } from "@tauri-apps/api/core";
import type { ConversionReport } from "./bindings/ConversionReport";
import type { ConvertProgress } from "./bindings/ConvertProgress";
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
import type { PinnedGroup } from "./bindings/PinnedGroup";
import type { ErrorCode } from "./bindings/ErrorCode";
import type { IpcError } from "./bindings/IpcError";
import type { Server } from "./bindings/Server";
import type { ServerInput } from "./bindings/ServerInput";
import type { ServerSummary } from "./bindings/ServerSummary";
import type { StartupStatus } from "./bindings/StartupStatus";
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

export type { ErrorCode, IpcError, Server, ServerInput, ServerSummary, StartupStatus, UrlCheck };
export type { ExportInput, ExportPreview, ExportRequest, ExportSummary, GroupPage, GroupSummary, JobEvent, PinnedGroup };
export type { KeyAlgorithm, KeyInfo, SignInResult };
export type { ChartProgress, Charts, FindBatch, FindSummary, FolderOverview, IndexProgress, Located };
export type { PreviewPage, PreviewRow, ResourceText };

function channelOf<T>(on: (message: T) => void): Channel<T> {
  const channel = new Channel<T>();
  channel.onmessage = on;
  return channel;
}

/** A channel that hands each engine event of one job to `onEvent`. */
function events(onEvent: (e: JobEvent) => void): Channel<JobEvent> {
  const channel = new Channel<JobEvent>();
  channel.onmessage = onEvent;
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

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (raw) {
    throw toCommandError(raw);
  }
}

export const commands = {
  startupStatus: () => call<StartupStatus>("startup_status"),
  moveDatabaseAside: () => call<string>("move_database_aside"),
  listServers: () => call<Server[]>("list_servers"),
  addServer: (input: ServerInput) => call<Server>("add_server", { input }),
  updateServer: (id: number, input: ServerInput) => call<Server>("update_server", { id, input }),
  removeServer: (id: number) => call<null>("remove_server", { id }),
  checkServerUrl: (url: string) => call<UrlCheck>("check_server_url", { url }),
  testConnection: (baseUrl: string) => call<ServerSummary>("test_connection", { baseUrl }),
  previewExport: (serverId: number, request: ExportRequest) =>
    call<ExportPreview>("preview_export", { serverId, request }),
  startExport: (input: ExportInput, onEvent: (e: JobEvent) => void) =>
    call<number>("start_export", { input, onEvent: events(onEvent) }),
  watchExport: (id: number, onEvent: (e: JobEvent) => void) =>
    call<boolean>("watch_export", { id, onEvent: events(onEvent) }),
  resumeExport: (id: number, onEvent: (e: JobEvent) => void) =>
    call<null>("resume_export", { id, onEvent: events(onEvent) }),
  cancelExport: (id: number) => call<boolean>("cancel_export", { id }),
  listExports: (limit: number) => call<ExportSummary[]>("list_exports", { limit }),
  convertExport: (id: number, outDir: string | null, onProgress: (p: ConvertProgress) => void) => {
    const channel = new Channel<ConvertProgress>();
    channel.onmessage = onProgress;
    return call<ConversionReport>("convert_export", { id, outDir, onProgress: channel });
  },
  cancelConversion: (id: number) => call<boolean>("cancel_conversion", { id }),
  searchGroups: (serverId: number, name: string | null, pageUrl: string | null) =>
    call<GroupPage>("search_groups", { serverId, name, pageUrl }),
  listPinnedGroups: (serverId: number) => call<PinnedGroup[]>("list_pinned_groups", { serverId }),
  pinGroup: (serverId: number, group: GroupSummary) => call<null>("pin_group", { serverId, group }),
  unpinGroup: (serverId: number, groupId: string) => call<null>("unpin_group", { serverId, groupId }),
  listKeys: () => call<KeyInfo[]>("list_keys"),
  generateKey: (alg: KeyAlgorithm, label: string) => call<KeyInfo>("generate_key", { alg, label }),
  importKey: (text: string, label: string) => call<KeyInfo>("import_key", { text, label }),
  keyJwks: (kid: string) => call<string>("key_jwks", { kid }),
  deleteKey: (kid: string) => call<string[]>("delete_key", { kid }),
  registerKeyWithDemo: (kid: string) => call<string>("register_key_with_demo", { kid }),
  saveKeyJwks: (kid: string, path: string) => call<null>("save_key_jwks", { kid, path }),
  testSignIn: (baseUrl: string, clientId: string, keyKid: string, tokenUrl: string | null, scope: string | null) =>
    call<SignInResult>("test_sign_in", { baseUrl, clientId, keyKid, tokenUrl, scope }),
  rerunExport: (id: number, incremental: boolean, onEvent: (e: JobEvent) => void) =>
    call<number>("rerun_export", { id, incremental, onEvent: events(onEvent) }),
  exportText: (id: number, which: "log" | "errors") => call<string>("export_text", { id, which }),
  openExportFolder: (id: number) => call<null>("open_export_folder", { id }),
  deleteExportFiles: (id: number) => call<null>("delete_export_files", { id }),
  browseOpen: (folder: string) => call<FolderOverview>("browse_open", { folder }),
  browseIndex: (folder: string, resourceType: string, onProgress: (p: IndexProgress) => void) =>
    call<IndexProgress>("browse_index", { folder, resourceType, onProgress: channelOf(onProgress) }),
  browsePage: (folder: string, resourceType: string, start: number, count: number) =>
    call<PreviewPage>("browse_page", { folder, resourceType, start, count }),
  browseRows: (folder: string, resourceType: string, rows: number[]) =>
    call<PreviewRow[]>("browse_rows", { folder, resourceType, rows }),
  browseResource: (folder: string, resourceType: string, row: number) =>
    call<ResourceText>("browse_resource", { folder, resourceType, row }),
  browseFind: (folder: string, resourceType: string, query: string, task: string, onBatch: (b: FindBatch) => void) =>
    call<FindSummary>("browse_find", { folder, resourceType, query, task, onBatch: channelOf(onBatch) }),
  browseFindId: (folder: string, resourceType: string, id: string) =>
    call<number | null>("browse_find_id", { folder, resourceType, id }),
  browseLookup: (folder: string, reference: string) => call<Located | null>("browse_lookup", { folder, reference }),
  browseCharts: (folder: string, task: string, onProgress: (p: ChartProgress) => void) =>
    call<Charts>("browse_charts", { folder, task, onProgress: channelOf(onProgress) }),
  browseStop: (task: string) => call<null>("browse_stop", { task }),
};

import { open as openDialog } from "@tauri-apps/plugin-dialog";
import { useEffect, useId, useMemo, useRef, useState } from "react";
import {
  commands,
  toCommandError,
  type CommandError,
  type ExportPreview,
  type Server,
  type ServerProfile,
} from "../../ipc/commands";
import { ErrorNotice } from "../shell/ErrorNotice";
import { emptyForm, formProblems, PRESETS, RESOURCE_TYPES, toRequest, type ExportForm, type Level } from "./request";
import { isUnfinished } from "./jobState";
import { RunningExport, useJobProgress } from "./RunningExport";
import { NextSteps } from "./NextSteps";
import { ServerSelect } from "../servers/ServerSelect";
import { DateTimeInput } from "../../design/DateTimeInput";
import { countOf } from "../../format";

const LEVELS: { id: Level; label: string; hint: string; operation: string }[] = [
  // The words a user reads; the operation each one is (the spec's name) is in the tooltip and in the request
  // shown before starting.
  { id: "group", label: "One group (roster)", hint: "the patients of one group, such as an ACO roster", operation: "Group/[id]/$export" },
  { id: "patient", label: "All patients", hint: "every patient's data", operation: "Patient/$export" },
  { id: "system", label: "Everything", hint: "all the server holds, patients or not", operation: "$export" },
];

export function ExportPage({
  initial,
  onBrowse,
}: {
  /** A form filled in already: a group chosen on the Groups page, or an earlier export to run again. */
  initial?: Partial<ExportForm>;
  onBrowse?: (folder: string) => void;
}) {
  const [servers, setServers] = useState<Server[] | null>(null);
  const [form, setForm] = useState<ExportForm>(() => ({ ...emptyForm(null), ...initial }));
  const formRef = useRef<HTMLFormElement>(null);
  const [attempt, setAttempt] = useState(0);
  const [preview, setPreview] = useState<ExportPreview | null>(null);
  const [previewError, setPreviewError] = useState<CommandError | null>(null);
  const [error, setError] = useState<CommandError | null>(null);
  const [submitted, setSubmitted] = useState(false);
  const [starting, setStarting] = useState(false);
  const [jobId, setJobId] = useState<number | null>(null);
  const [progress, onEvent, resetProgress] = useJobProgress();
  const [cancelError, setCancelError] = useState<CommandError | null>(null);
  const [profiles, setProfiles] = useState<ServerProfile[]>([]);
  const ids = {
    server: useId(),
    group: useId(),
    since: useId(),
    until: useId(),
    container: useId(),
    out: useId(),
    parallel: useId(),
  };

  useEffect(() => {
    commands
      .listServers()
      .then((list) => {
        setServers(list);
        const first = list[0];
        setForm((f) => (f.serverId === null && first ? { ...f, serverId: first.id } : f));
      })
      .catch((e: unknown) => setError(toCommandError(e)));
    commands
      .listServerProfiles()
      .then(setProfiles)
      // Without the list only the options of particular kinds of server (Azure's container) are missing.
      .catch(() => setProfiles([]));
  }, []);

  // Coming back to this page while an export runs shows that export again, not an empty form.
  useEffect(() => {
    if (initial) return;
    let live = true;
    commands
      .listExports(50)
      .then((rows) => {
        const running = rows.find((r) => r.running);
        if (!live || !running) return;
        // The state it is in first, then what happens from now on (earlier events are not sent again).
        onEvent({ event: "state", state: running.job.state });
        return commands.watchExport(running.job.id, onEvent).then((watching) => {
          if (live && watching) setJobId((id) => id ?? running.job.id);
        });
      })
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [initial, onEvent]);

  const profileId = servers?.find((s) => s.id === form.serverId)?.profileId;
  const profile = profiles.find((p) => p.id === profileId);
  const takesContainer = profile?.quirks.container_param ?? false;
  // The levels the server's kind offers (BCDA: groups only); a server of no known kind offers all three.
  const offered = (level: Level) => profile === undefined || profile.levels.includes(level);
  // Choosing a server that does not offer the chosen level moves to one it does (AB2D: all patients only).
  const firstOffered = profile?.levels.find((l) => l === "group" || l === "patient" || l === "system");
  useEffect(() => {
    if (firstOffered !== undefined && profile !== undefined && !profile.levels.includes(form.level)) {
      setForm((f) => ({ ...f, level: firstOffered }));
    }
  }, [profile, firstOffered, form.level]);

  const problems = formProblems(form);
  const valid = Object.keys(problems).length === 0;
  // A container typed for an Azure server is not sent when another server is chosen.
  const request = useMemo(() => toRequest(takesContainer ? form : { ...form, container: "" }), [form, takesContainer]);

  useEffect(() => {
    if (form.serverId === null || !valid) {
      setPreview(null);
      return;
    }
    const serverId = form.serverId;
    const timer = setTimeout(() => {
      commands
        .previewExport(serverId, request)
        .then((p) => {
          setPreview(p);
          setPreviewError(null);
        })
        .catch((e: unknown) => {
          setPreview(null);
          setPreviewError(toCommandError(e));
        });
    }, 250);
    return () => clearTimeout(timer);
  }, [form.serverId, request, valid]);

  // A refused start takes the user to the first field that needs them (a long form may hide it).
  useEffect(() => {
    if (attempt === 0) return;
    const field = formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]');
    field?.scrollIntoView?.({ block: "center" });
    field?.focus();
  }, [attempt]);

  const set = <K extends keyof ExportForm>(key: K, value: ExportForm[K]) => setForm((f) => ({ ...f, [key]: value }));
  const toggleType = (t: string) =>
    setForm((f) => ({ ...f, types: f.types.includes(t) ? f.types.filter((x) => x !== t) : [...f.types, t] }));
  const shown = (key: keyof typeof problems) => (submitted ? problems[key] : undefined);

  if (jobId !== null) {
    return (
      <section className="page" aria-labelledby="export-title">
        <header className="page-header">
          <h1 id="export-title">Export</h1>
          <button
            type="button"
            data-testid="new-export"
            onClick={() => {
              resetProgress();
              setJobId(null);
              setSubmitted(false);
            }}
          >
            New export
          </button>
        </header>
        {cancelError && <ErrorNotice error={cancelError} title="Could not cancel" />}
        <RunningExport
          jobId={jobId}
          progress={progress}
          onCancel={() => commands.cancelExport(jobId).catch((e: unknown) => setCancelError(toCommandError(e)))}
          next={
            progress.finished && ["completed", "completed_with_problems"].includes(progress.finished.state) ? (
              <NextSteps jobId={jobId} onBrowse={onBrowse} />
            ) : undefined
          }
        />
        {!progress.finished && (progress.state === null || isUnfinished(progress.state)) && (
          <p className="field-hint" data-testid="keeps-running-hint">
            You can leave this page: the export keeps running, and History shows it.
          </p>
        )}
      </section>
    );
  }

  const start = async () => {
    setSubmitted(true);
    setError(null);
    if (!valid || form.serverId === null) {
      setAttempt((a) => a + 1);
      return;
    }
    setStarting(true);
    resetProgress();
    try {
      const id = await commands.startExport(
        {
          serverId: form.serverId,
          request,
          sinceLast: form.sinceLast,
          outDir: form.outDir.trim() === "" ? null : form.outDir.trim(),
          parallel: form.parallel,
          deleteAfter: form.deleteAfter,
          newMemberRecords: form.newMemberRecords,
          ...(form.level === "group" && form.groupName !== "" ? { groupName: form.groupName } : {}),
        },
        onEvent,
      );
      setJobId(id);
    } catch (e) {
      setError(toCommandError(e));
    } finally {
      setStarting(false);
    }
  };

  return (
    <section className="page" aria-labelledby="export-title">
      <header className="page-header">
        <h1 id="export-title">Export</h1>
      </header>
      {error && <ErrorNotice error={error} title="The export could not start" />}
      <form
        ref={formRef}
        className="form card"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void start();
        }}
      >
        <div className="field">
          <label htmlFor={ids.server}>Server</label>
          <ServerSelect
            id={ids.server}
            testId="export-server"
            servers={servers}
            value={form.serverId}
            onChange={(id) => set("serverId", id)}
            invalid={shown("server") !== undefined}
          />
          {shown("server") && <p className="field-error">{shown("server")}</p>}
        </div>

        <fieldset className="field">
          <legend>What to export</legend>
          {LEVELS.map((l) => (
            <label key={l.id} className="choice">
              <input
                type="radio"
                name="level"
                value={l.id}
                data-testid={`level-${l.id}`}
                checked={form.level === l.id}
                disabled={!offered(l.id)}
                onChange={() => set("level", l.id)}
              />
              <span>
                {l.label}{" "}
                <span className="field-hint" title={l.operation}>
                  {offered(l.id) ? `— ${l.hint}` : `(${profile?.name} does not offer it)`}
                </span>
              </span>
            </label>
          ))}
        </fieldset>

        {form.level === "group" && (
          <div className="field">
            <label htmlFor={ids.group}>Group id</label>
            <input
              id={ids.group}
              data-testid="export-group"
              value={form.groupId}
              // Another id is another group: the name chosen with the old one no longer applies.
              onChange={(e) => setForm((f) => ({ ...f, groupId: e.target.value, groupName: "" }))}
              aria-invalid={shown("groupId") ? true : undefined}
              placeholder="for example aco-north"
            />
            {shown("groupId") && <p className="field-error">{shown("groupId")}</p>}
          </div>
        )}

        <fieldset className="field">
          <legend>Resource types</legend>
          <div className="actions">
            {PRESETS.map((p) => (
              <button key={p.id} type="button" data-testid={`preset-${p.id}`} onClick={() => set("types", [...p.types])}>
                {p.label}
              </button>
            ))}
          </div>
          <p className="field-hint">
            {form.types.length === 0 ? "All types the server exports." : `${countOf(form.types.length, "type")} chosen.`}
          </p>
          <div className="type-grid">
            {RESOURCE_TYPES.map((t) => (
              <label key={t} className="choice">
                <input type="checkbox" checked={form.types.includes(t)} onChange={() => toggleType(t)} />
                {t}
              </label>
            ))}
          </div>
        </fieldset>

        <div className="field">
          <label htmlFor={ids.since}>Only resources changed since</label>
          <DateTimeInput
            id={ids.since}
            label="Changed since"
            value={form.sinceLast ? "" : form.since}
            disabled={form.sinceLast}
            onChange={(v) => set("since", v)}
            invalid={shown("since") !== undefined}
          />
          <label className="choice">
            <input type="checkbox" checked={form.sinceLast} onChange={(e) => set("sinceLast", e.target.checked)} />
            Since the last export of this same request
            {form.sinceLast && preview && (
              <span className="field-hint" data-testid="since-last">
                ({preview.sinceLastText})
              </span>
            )}
          </label>
          {form.sinceLast &&
            preview?.sinceLast.passedOver.map((why) => (
              <p key={why} className="field-hint" data-testid="since-last-passed-over">
                {why}
              </p>
            ))}
          {shown("since") && <p className="field-error">{shown("since")}</p>}
          {form.level === "group" && (form.sinceLast || form.since !== "") && (
            <label className="choice">
              <input
                type="checkbox"
                data-testid="new-member-records"
                checked={form.newMemberRecords}
                onChange={(e) => set("newMemberRecords", e.target.checked)}
              />
              Also fetch the full records of patients who joined the group since then
            </label>
          )}
        </div>

        <div className="field">
          <label htmlFor={ids.until}>Changed up to (optional)</label>
          <DateTimeInput
            id={ids.until}
            label="Changed up to"
            testId="export-until"
            value={form.until}
            onChange={(v) => set("until", v)}
            invalid={shown("until") !== undefined}
          />
          <p className="field-hint">
            Only resources changed up to this moment (_until). AB2D and servers on Bulk Data v2 understand it; leave
            it empty for everything up to now.
          </p>
          {shown("until") && <p className="field-error">{shown("until")}</p>}
        </div>

        {takesContainer && (
          <div className="field">
            <label htmlFor={ids.container}>Storage container (optional)</label>
            <input
              id={ids.container}
              data-testid="export-container"
              value={form.container}
              onChange={(e) => set("container", e.target.value)}
              placeholder="monthly-roster"
            />
            <p className="field-hint">
              The container in the server's linked storage account that the files go into (_container). It must already
              exist; leave it empty and the server makes a new container for each export.
            </p>
          </div>
        )}

        <details className="field">
          <summary>More options</summary>
          <div className="form">
            <div className="field">
              <label>
                Elements to keep (_elements, comma-separated)
                <input value={form.elements} onChange={(e) => set("elements", e.target.value)} placeholder="id,meta,code" />
              </label>
            </div>
            <div className="field">
              <label>
                Only these patients (ids, one per line or comma-separated)
                <textarea rows={3} value={form.patients} onChange={(e) => set("patients", e.target.value)} />
              </label>
              {shown("patients") && <p className="field-error">{shown("patients")}</p>}
            </div>
            <div className="field">
              <label>
                Type filters (one per line, Type?query)
                <textarea
                  rows={3}
                  value={form.typeFilters}
                  onChange={(e) => set("typeFilters", e.target.value)}
                  placeholder="Observation?category=laboratory"
                />
              </label>
              {shown("typeFilters") && <p className="field-error">{shown("typeFilters")}</p>}
            </div>
            <label className="choice">
              <input type="checkbox" checked={form.lenient} onChange={(e) => set("lenient", e.target.checked)} />
              Lenient: ask the server to skip what it does not support
            </label>
            <label className="choice">
              <input type="checkbox" checked={form.deleteAfter} onChange={(e) => set("deleteAfter", e.target.checked)} />
              Tell the server it may delete the files once they are safe here
            </label>
            <div className="field">
              <label htmlFor={ids.parallel}>Files downloaded at once</label>
              <input
                id={ids.parallel}
                type="number"
                min={1}
                max={32}
                value={form.parallel}
                onChange={(e) => set("parallel", Number(e.target.value))}
              />
              {shown("parallel") && <p className="field-error">{shown("parallel")}</p>}
            </div>
            <div className="field">
              <label htmlFor={ids.out}>Folder or storage address</label>
              <div className="input-with-button">
                <input
                  id={ids.out}
                  data-testid="export-folder"
                  value={form.outDir}
                  onChange={(e) => set("outDir", e.target.value)}
                  placeholder={preview?.defaultFolder ?? "a new folder under Documents/Haul exports"}
                />
                <button
                  type="button"
                  onClick={() =>
                    openDialog({ directory: true, multiple: false, title: "Folder for this export (new or empty)" })
                      .then((picked) => typeof picked === "string" && set("outDir", picked))
                      .catch((e: unknown) => setError(toCommandError(e)))
                  }
                >
                  Choose…
                </button>
              </div>
              <p className="field-hint">
                Leave empty for a new folder named after the server and the time. Or type an object storage address,
                such as s3://bucket/prefix, gs://bucket/prefix or az://container/prefix: Haul signs in to the storage
                with the credentials of the environment it was started in (typing them into Haul is not built yet).
              </p>
            </div>
          </div>
        </details>

        {previewError && <ErrorNotice error={previewError} title="Haul could not prepare this request" />}
        {preview && (
          <div className="field">
            <span className="field-label">The request Haul will send</span>
            <pre className="detail" data-testid="export-request">
              {preview.requestText}
            </pre>
          </div>
        )}

        <div className="actions">
          <button type="submit" className="primary" data-testid="start-export" disabled={starting}>
            {starting ? "Starting…" : "Start export"}
          </button>
        </div>
      </form>
    </section>
  );
}

import { useEffect, useRef, useState } from "react";
import { CalendarClock, FolderOpen, Table2 } from "lucide-react";
import { commands, toCommandError, type CommandError } from "../../ipc/commands";
import { ConvertPanel } from "../convert/ConvertPanel";
import { TablesPanel } from "../tables/TablesPanel";
import { RepeatExport } from "../history/RepeatExport";
import { ErrorNotice } from "../shell/ErrorNotice";

type Panel = "convert" | "tables" | "repeat";

/**
 * Under a finished export: where its files are and what to do next, one click each (look inside, open the
 * folder, convert, make flat tables, repeat it every month), without a trip to History.
 */
export function NextSteps({ jobId, onBrowse }: { jobId: number; onBrowse?: (folder: string) => void }) {
  const [folder, setFolder] = useState<string | null>(null);
  const [panel, setPanel] = useState<Panel | null>(null);
  const [error, setError] = useState<CommandError | null>(null);
  const panelRef = useRef<HTMLDivElement>(null);
  useEffect(() => {
    commands
      .listExports(1000)
      .then((rows) => setFolder(rows.find((r) => r.job.id === jobId)?.job.outDir ?? null))
      .catch((e: unknown) => setError(toCommandError(e)));
  }, [jobId]);
  useEffect(() => {
    if (panel) panelRef.current?.scrollIntoView?.({ block: "start", behavior: "smooth" });
  }, [panel]);
  const fail = (e: unknown) => setError(toCommandError(e));
  return (
    <section className="card next-steps" aria-labelledby={`next-${jobId}`} data-testid="next-steps">
      <h2 id={`next-${jobId}`}>Next</h2>
      {folder && (
        <p className="muted small">
          The files are in <code data-testid="next-folder">{folder}</code>
        </p>
      )}
      {error && <ErrorNotice error={error} />}
      <div className="actions">
        {onBrowse && folder && (
          <button type="button" className="primary" data-testid="next-look-inside" onClick={() => onBrowse(folder)}>
            <Table2 aria-hidden="true" size={16} /> Look inside
          </button>
        )}
        <button type="button" data-testid="next-open-folder" onClick={() => commands.openExportFolder(jobId).catch(fail)}>
          <FolderOpen aria-hidden="true" size={16} /> Open folder
        </button>
        <button type="button" data-testid="next-convert" aria-pressed={panel === "convert"} onClick={() => setPanel("convert")}>
          Convert to Parquet or Delta…
        </button>
        <button type="button" data-testid="next-tables" aria-pressed={panel === "tables"} onClick={() => setPanel("tables")}>
          Make tables…
        </button>
        <button type="button" data-testid="next-repeat" aria-pressed={panel === "repeat"} onClick={() => setPanel("repeat")}>
          <CalendarClock aria-hidden="true" size={16} /> Repeat every month…
        </button>
      </div>
      <div ref={panelRef}>
        {panel === "convert" && <ConvertPanel exportId={jobId} onClose={() => setPanel(null)} />}
        {panel === "tables" && <TablesPanel exportId={jobId} onClose={() => setPanel(null)} />}
        {panel === "repeat" && <RepeatExport exportId={jobId} />}
      </div>
    </section>
  );
}

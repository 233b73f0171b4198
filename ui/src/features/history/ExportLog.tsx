import { X } from "lucide-react";
import { formatDateTime } from "../../format";
import { StatusBadge } from "../../design/StatusBadge";
import { readLog } from "./exportLog";

/** The export's log as a list of events in words, or the server's error files as they came. */
export function ExportLog({ which, body, onClose }: { which: "log" | "errors"; body: string; onClose: () => void }) {
  const title = which === "log" ? "What happened" : "The server's error files";
  return (
    <section className="log-panel" aria-label={title} data-testid="export-text">
      <header className="detail-head">
        <h3>{title}</h3>
        <button type="button" className="quiet" aria-label="Close" onClick={onClose}>
          <X aria-hidden="true" size={16} />
        </button>
      </header>
      {body.trim() === "" ? (
        <p className="muted">{which === "log" ? "The log is empty." : "The server sent no error files."}</p>
      ) : which === "errors" ? (
        <pre className="detail">{body}</pre>
      ) : (
        <ol className="event-list">
          {readLog(body).map((e, i) => (
            <li key={i} className={`event event-${e.tone}`}>
              <time className="muted small" dateTime={e.time}>
                {e.time ? formatDateTime(e.time) : ""}
              </time>
              <span>
                <StatusBadge tone={e.tone} label={e.what} />
                {e.detail && <span className="muted small event-detail">{e.detail}</span>}
              </span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

import type { DeltaReport } from "../../ipc/bindings/DeltaReport";
import { formatCount } from "../../format";
import { deltaHeadline } from "./convert";
import { DeltaVacuum } from "./DeltaVacuum";

/** What a conversion into Delta tables did: each table's new version and what changed in it. */
export function DeltaReportView({ report: r, onClose }: { report: DeltaReport; onClose: () => void }) {
  const count = (n: number | undefined) => (n === undefined ? "—" : formatCount(n));
  // What changed is told only for a merge: a full export replaces the contents whole.
  const changes = r.incremental;
  return (
    <section className="card" data-testid="convert-panel" ref={(el) => el?.scrollIntoView?.({ block: "nearest" })}>
      <h3>Delta Lake tables written</h3>
      <p className="notice notice-ok" role="status" data-testid="delta-headline">
        {deltaHeadline(r)}
      </p>
      <p>
        Tables under <code data-testid="delta-target-shown">{r.target}</code>, one per resource type.
      </p>
      <div className="table-scroll">
        <table className="files-table" data-testid="delta-report">
          <thead>
            <tr>
              <th>Table</th>
              <th className="num">Version</th>
              <th className="num">Rows</th>
              {changes && (
                <>
                  <th className="num">Added</th>
                  <th className="num">Changed</th>
                  <th className="num">Taken out</th>
                </>
              )}
            </tr>
          </thead>
          <tbody>
            {r.tables.map((t) => (
              <tr key={t.resourceType}>
                <td>{t.resourceType}</td>
                <td className="num">{t.version === null ? "unchanged" : t.version}</td>
                <td className="num">{formatCount(t.rows)}</td>
                {changes && (
                  <>
                    <td className="num">{count(t.change?.added)}</td>
                    <td className="num">{count(t.change?.changed)}</td>
                    <td className="num">
                      {t.change ? formatCount(t.change.deleted + t.change.leftWithPatient) : "—"}
                    </td>
                  </>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {r.left > 0 && (
        <p className="notice" data-testid="delta-left">
          {formatCount(r.left)} {r.left === 1 ? "patient" : "patients"} left the group: their resources were taken out
          of every table.
        </p>
      )}
      {r.badLines > 0 && (
        <p className="notice notice-warn" data-testid="delta-bad-lines">
          {formatCount(r.badLines)} {r.badLines === 1 ? "line was" : "lines were"} not a valid resource and left out
          {r.badLinesFile ? (
            <>
              ; they are kept in <code>{r.badLinesFile}</code>.
            </>
          ) : (
            "."
          )}
        </p>
      )}
      {r.warnings.map((w) => (
        <p key={w} className="notice notice-warn">
          {w}
        </p>
      ))}
      <DeltaVacuum target={r.target} />
      <div className="actions">
        <button type="button" className="primary" data-testid="convert-close" onClick={onClose}>
          Close
        </button>
      </div>
    </section>
  );
}

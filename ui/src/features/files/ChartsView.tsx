import { useEffect, useState } from "react";
import { commands, toCommandError, type Charts, type CommandError } from "../../ipc/commands";
import type { CodeCount } from "../../ipc/bindings/CodeCount";
import type { LabelCount } from "../../ipc/bindings/LabelCount";
import { ErrorNotice } from "../shell/ErrorNotice";
import { formatCount, percent, taskName, timeBars } from "./browse";

/** Charts of a folder: counted in one pass over every file when the tab opens (with progress and Stop). */
export function ChartsView({ folder }: { folder: string }) {
  const [charts, setCharts] = useState<Charts | null>(null);
  const [progress, setProgress] = useState(0);
  const [task, setTask] = useState<string | null>(null);
  const [error, setError] = useState<CommandError | null>(null);
  const [run, setRun] = useState(0);

  useEffect(() => {
    let live = true;
    const name = taskName("charts");
    setTask(name);
    setError(null);
    setCharts(null);
    setProgress(0);
    commands
      .browseCharts(folder, name, (p) => live && setProgress(percent(p.bytesRead, p.bytes)))
      .then((c) => live && setCharts(c))
      .catch((e: unknown) => live && setError(toCommandError(e)))
      .finally(() => live && setTask(null));
    return () => {
      live = false;
      void commands.browseStop(name);
    };
  }, [folder, run]);

  if (error) {
    return (
      <div>
        <ErrorNotice error={error} title={error.code === "interrupted" ? "Counting stopped" : "Haul could not count"} />
        <button type="button" onClick={() => setRun((r) => r + 1)}>
          Count again
        </button>
      </div>
    );
  }
  if (!charts) {
    return (
      <div className="card" role="status" data-testid="charts-progress">
        <p>Reading every file once to count… {progress}%</p>
        <progress max={100} value={progress} aria-label="Counting" />
        {task && (
          <p>
            <button type="button" onClick={() => void commands.browseStop(task)}>
              Stop
            </button>
          </p>
        )}
      </div>
    );
  }
  const time = timeBars(charts.perMonth);
  return (
    <div className="charts" data-testid="charts">
      <ChartCard title="Resources per type">
        <Bars data={charts.perType} />
      </ChartCard>
      <ChartCard title="Top Observation codes">
        <CodeBars data={charts.observationCodes} empty="No Observations with a code." />
      </ChartCard>
      <ChartCard title="Top Condition codes">
        <CodeBars data={charts.conditionCodes} empty="No Conditions with a code." />
      </ChartCard>
      <ChartCard title="Patients by gender">
        <Bars data={charts.gender} empty="No Patients in this folder." />
      </ChartCard>
      <ChartCard title={`Patients by age (on ${charts.ageAsOf}; at death for the deceased)`}>
        <Bars data={charts.age} empty="No Patients in this folder." />
      </ChartCard>
      <ChartCard title={`Resources per ${time.unit} (last updated, else the resource's own date)`} wide>
        <Columns data={time.bars} />
        <p className="muted small">
          {charts.undated > 0 && `${formatCount(charts.undated)} resources have no date and are not shown. `}
          {charts.invalidLines > 0 && `${formatCount(charts.invalidLines)} lines are not resources and are left out of every chart.`}
        </p>
      </ChartCard>
    </div>
  );
}

function ChartCard({ title, wide, children }: { title: string; wide?: boolean; children: React.ReactNode }) {
  return (
    <figure className={"card chart" + (wide ? " chart-wide" : "")}>
      <figcaption>{title}</figcaption>
      {children}
    </figure>
  );
}

function Bars({ data, empty }: { data: LabelCount[]; empty?: string }) {
  if (data.length === 0 || data.every((d) => d.count === 0)) return <p className="muted">{empty ?? "Nothing to show."}</p>;
  const max = Math.max(...data.map((d) => d.count));
  return (
    <ul className="bars">
      {data.map((d) => (
        <li key={d.label} title={`${d.label}: ${formatCount(d.count)}`}>
          <span className="bar-label">{d.label}</span>
          <span className="bar-track">
            <span className="bar" style={{ width: `${(d.count / max) * 100}%` }} />
          </span>
          <span className="num">{formatCount(d.count)}</span>
        </li>
      ))}
    </ul>
  );
}

function CodeBars({ data, empty }: { data: CodeCount[]; empty: string }) {
  return (
    <Bars
      empty={empty}
      data={data.map((c) => ({ label: c.display ? `${c.display} (${c.code})` : c.code, count: c.count }))}
    />
  );
}

/** A column per month or year, as an SVG that scales with the card. */
function Columns({ data }: { data: LabelCount[] }) {
  if (data.length === 0) return <p className="muted">No dates to show.</p>;
  const max = Math.max(...data.map((d) => d.count));
  const width = Math.max(data.length * 8, 300);
  const height = 160;
  const step = width / data.length;
  const every = Math.ceil(data.length / 12);
  return (
    <svg viewBox={`0 0 ${width} ${height + 18}`} className="columns" role="img" aria-label="Resources over time">
      {data.map((d, i) => {
        const h = (d.count / max) * height;
        return (
          <g key={d.label}>
            <rect x={i * step + 1} y={height - h} width={Math.max(step - 2, 1)} height={h} className="column">
              <title>{`${d.label}: ${formatCount(d.count)}`}</title>
            </rect>
            {i % every === 0 && (
              <text x={i * step} y={height + 14} className="column-label">
                {d.label}
              </text>
            )}
          </g>
        );
      })}
    </svg>
  );
}

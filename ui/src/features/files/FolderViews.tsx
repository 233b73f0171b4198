import { useEffect, useState } from "react";
import type { ViewInfo } from "../../ipc/bindings/ViewInfo";
import { commands, toCommandError, type CommandError } from "../../ipc/commands";
import { ErrorNotice } from "../shell/ErrorNotice";
import { ViewPreview } from "../tables/ViewPreview";

/** The Files page's flat views: each built-in view for a type this folder holds, with its first rows. */
export function FolderViews({ folder, types }: { folder: string; types: string[] }) {
  const [views, setViews] = useState<ViewInfo[] | null>(null);
  const [error, setError] = useState<CommandError | null>(null);
  useEffect(() => {
    commands
      .listViews()
      .then(setViews)
      .catch((e: unknown) => setError(toCommandError(e)));
  }, []);
  if (error) return <ErrorNotice error={error} title="The views could not be listed" />;
  if (!views) return <p className="muted">Reading the views…</p>;
  const here = views.filter((v) => types.includes(v.resource));
  return (
    <div className="card" data-testid="folder-views">
      <h2>Flat views</h2>
      <p className="muted">
        One row per patient, condition, observation or claim line, as the tables that <strong>Make tables…</strong> (History)
        writes for Excel and BI tools. The first 20 rows of each:
      </p>
      {here.length === 0 && <p>None of the built-in views reads the types in this folder.</p>}
      <ul className="choices">
        {here.map((v) => (
          <li key={v.name}>
            <strong>{v.title ?? v.name}</strong> <span className="muted">({v.resource})</span>
            {v.description && <p className="muted">{v.description}</p>}
            <ViewPreview read={() => commands.previewViewInFolder(folder, { kind: "builtIn", name: v.name })} name={v.name} />
          </li>
        ))}
      </ul>
    </div>
  );
}

import { formatBytes, formatCount } from "../../format";
import type { TypeTotalRow } from "./progress";

/** Resources, files and size per resource type: the running view and the History details show the same. */
export function TypeTotalsTable({ totals, testId }: { totals: TypeTotalRow[]; testId: string }) {
  return (
    <table className="files-table" data-testid={testId}>
      <caption>Per resource type</caption>
      <thead>
        <tr>
          <th scope="col">Type</th>
          <th scope="col" className="num">
            Files
          </th>
          <th scope="col" className="num">
            Resources
          </th>
          <th scope="col" className="num">
            Size
          </th>
        </tr>
      </thead>
      <tbody>
        {totals.map((t) => (
          <tr key={t.resourceType}>
            <td>{t.resourceType}</td>
            <td className="num">{formatCount(t.files)}</td>
            <td className="num">{formatCount(t.resources)}</td>
            <td className="num">{formatBytes(t.bytes)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

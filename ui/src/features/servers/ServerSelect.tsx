import type { Server } from "../../ipc/bindings/Server";

/**
 * The saved servers to choose from (Export, Groups). Shown once the list has arrived: WebKitGTK drew an empty
 * box when the options came after the value.
 */
export function ServerSelect({
  id,
  testId,
  servers,
  value,
  onChange,
  invalid,
}: {
  id: string;
  testId: string;
  servers: Server[] | null;
  value: number | null;
  onChange: (serverId: number | null) => void;
  invalid?: boolean;
}) {
  if (servers === null) {
    return (
      <p className="muted" id={id}>
        Loading the servers…
      </p>
    );
  }
  return (
    <select
      id={id}
      data-testid={testId}
      value={value ?? ""}
      onChange={(e) => onChange(e.target.value === "" ? null : Number(e.target.value))}
      aria-invalid={invalid ? true : undefined}
    >
      {servers.length === 0 && <option value="">No servers yet: add one on the Servers page</option>}
      {servers.map((s) => (
        <option key={s.id} value={s.id}>
          {s.name}
        </option>
      ))}
    </select>
  );
}

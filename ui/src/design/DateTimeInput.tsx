import { X } from "lucide-react";

/**
 * A moment as a date and a time of day, for "changed since"/"changed up to". Picking only a date means its
 * midnight (a native datetime field would take the current time, or stay half-filled); an empty field looks
 * empty. The value is a datetime-local string ("2026-01-31T08:00") or "".
 */
export function DateTimeInput({
  id,
  label,
  value,
  onChange,
  disabled,
  invalid,
  testId,
}: {
  id: string;
  /** The field's label, for the time part's own name ("… time"). */
  label: string;
  value: string;
  onChange: (value: string) => void;
  disabled?: boolean;
  invalid?: boolean;
  testId?: string;
}) {
  const [date = "", time = ""] = value === "" ? [] : value.split("T");
  return (
    <span className="datetime" data-empty={value === "" ? "true" : undefined}>
      {value === "" && (
        <span className="datetime-empty" aria-hidden="true">
          {disabled ? "—" : "Not set"}
        </span>
      )}
      <input
        id={id}
        type="date"
        value={date}
        disabled={disabled}
        data-testid={testId}
        aria-invalid={invalid ? true : undefined}
        onChange={(e) => onChange(e.target.value === "" ? "" : `${e.target.value}T${time || "00:00"}`)}
      />
      <input
        type="time"
        aria-label={`${label}: time of day`}
        value={date === "" ? "" : time}
        disabled={disabled || date === ""}
        onChange={(e) => onChange(`${date}T${e.target.value || "00:00"}`)}
      />
      {value !== "" && !disabled && (
        <button type="button" className="quiet" aria-label={`Clear ${label}`} onClick={() => onChange("")}>
          <X aria-hidden="true" size={15} />
        </button>
      )}
    </span>
  );
}

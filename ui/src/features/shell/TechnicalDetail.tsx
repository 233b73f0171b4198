import { useId, useState } from "react";

/** Technical detail (a status line, a server's words) one click away from a plain-words message. */
export function TechnicalDetail({ detail, what = "details" }: { detail: string; what?: string }) {
  const [open, setOpen] = useState(false);
  const detailId = useId();
  return (
    <>
      <button
        type="button"
        className="link-button"
        aria-expanded={open}
        aria-controls={detailId}
        onClick={() => setOpen((o) => !o)}
      >
        {open ? `Hide ${what}` : `Show ${what}`}
      </button>
      {open && (
        <pre id={detailId} className="detail">
          {detail}
        </pre>
      )}
    </>
  );
}

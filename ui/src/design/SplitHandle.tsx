import { useCallback, useRef, useState, type KeyboardEvent, type PointerEvent } from "react";

/** Where a drag that started at `startX` with the first pane `startWidth` wide leaves it, within bounds. */
export function dragWidth(startWidth: number, startX: number, x: number, min: number, max: number): number {
  return clamp(Math.round(startWidth + x - startX), min, max);
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/** Arrow keys move a bar by this much (with Shift, four times as much); the Files table's column edges too. */
export const KEY_STEP_PX = 16;

/** A first pane's width in pixels: what it starts at, and how far the bar moves it. */
export interface SplitBounds {
  initial: number;
  min: number;
  max: number;
}

/**
 * The first pane's width in pixels, kept per window layout (`key`) in the web view's storage, so a list
 * made wider stays wider the next day (a stored value out of bounds or not a number is ignored); and the
 * props of the bar that changes it.
 */
export function useSplitWidth(key: string, { initial, min, max }: SplitBounds) {
  const storageKey = `haul.split.${key}`;
  const [width, setWidthState] = useState(() => {
    const stored = Number(globalThis.localStorage?.getItem(storageKey));
    return Number.isFinite(stored) && stored >= min && stored <= max ? stored : initial;
  });
  const setWidth = useCallback(
    (w: number) => {
      const next = clamp(w, min, max);
      setWidthState(next);
      try {
        globalThis.localStorage?.setItem(storageKey, String(next));
      } catch {
        // Storage full or refused: the width still applies for this session.
      }
    },
    [storageKey, min, max],
  );
  return { width, handle: { width, min, max, onChange: setWidth, onReset: () => setWidth(initial) } };
}

/**
 * The bar between two panes: drag it, or focus it and use the arrow keys (Home and End for the bounds);
 * a double click or Enter puts the width back. A vertical `separator`, as WAI-ARIA's window splitter.
 */
export function SplitHandle({
  label,
  width,
  min,
  max,
  onChange,
  onReset,
  testId,
}: {
  label: string;
  width: number;
  min: number;
  max: number;
  onChange: (width: number) => void;
  onReset: () => void;
  testId?: string;
}) {
  const drag = useRef<{ x: number; width: number } | null>(null);
  const onPointerDown = (e: PointerEvent<HTMLDivElement>) => {
    e.currentTarget.setPointerCapture?.(e.pointerId);
    drag.current = { x: e.clientX, width };
  };
  const onPointerMove = (e: PointerEvent<HTMLDivElement>) => {
    if (drag.current) onChange(dragWidth(drag.current.width, drag.current.x, e.clientX, min, max));
  };
  const onPointerUp = () => {
    drag.current = null;
  };
  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    const step = e.shiftKey ? KEY_STEP_PX * 4 : KEY_STEP_PX;
    const next =
      e.key === "ArrowLeft" ? width - step
      : e.key === "ArrowRight" ? width + step
      : e.key === "Home" ? min
      : e.key === "End" ? max
      : null;
    if (next !== null) {
      e.preventDefault();
      onChange(clamp(next, min, max));
    } else if (e.key === "Enter") {
      e.preventDefault();
      onReset();
    }
  };
  return (
    <div
      role="separator"
      aria-orientation="vertical"
      aria-label={label}
      aria-valuenow={width}
      aria-valuemin={min}
      aria-valuemax={max}
      tabIndex={0}
      className="split-handle"
      title="Drag to resize; double-click to reset"
      data-testid={testId}
      onPointerDown={onPointerDown}
      onPointerMove={onPointerMove}
      onPointerUp={onPointerUp}
      onPointerCancel={onPointerUp}
      onDoubleClick={onReset}
      onKeyDown={onKeyDown}
    />
  );
}

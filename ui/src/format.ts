// Number formats shared by the pages.

/**
 * A size in bytes the way Haul writes it everywhere (History, Files, Convert, and the engine's own messages,
 * `human_bytes` in export-jobs): decimal units, one decimal place, "bytes" below 1 KB.
 */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} bytes`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u += 1;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

/** `1 group`, `5 groups`, `1,200 groups`: a count with its noun, thousands separated. */
export function countOf(n: number, noun: string): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? noun : `${noun}s`}`;
}

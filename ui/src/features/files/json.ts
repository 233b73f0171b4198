// A JSON reader for the resource view that keeps numbers as written (181.20 stays 181.20; JSON.parse would
// print 181.2 and round long decimals), and keeps object keys in their order.

export type JsonNode =
  | { kind: "object"; entries: [string, JsonNode][] }
  | { kind: "array"; items: JsonNode[] }
  | { kind: "string"; value: string }
  | { kind: "number"; text: string }
  | { kind: "boolean"; value: boolean }
  | { kind: "null" };

export class JsonSyntaxError extends Error {}

export function parseJson(text: string): JsonNode {
  let i = 0;
  const fail = (what: string): never => {
    throw new JsonSyntaxError(`${what} at character ${i + 1}`);
  };
  const space = () => {
    while (i < text.length && " \t\n\r".includes(text.charAt(i))) i++;
  };
  const value = (depth: number): JsonNode => {
    if (depth > 500) fail("Nested too deeply");
    space();
    const c = text.charAt(i);
    if (c === "{") {
      i++;
      const entries: [string, JsonNode][] = [];
      space();
      if (text.charAt(i) === "}") {
        i++;
        return { kind: "object", entries };
      }
      for (;;) {
        space();
        if (text.charAt(i) !== '"') fail("Expected a key");
        const key = string();
        space();
        if (text.charAt(i) !== ":") fail("Expected ':'");
        i++;
        entries.push([key, value(depth + 1)]);
        space();
        if (text.charAt(i) === ",") {
          i++;
          continue;
        }
        if (text.charAt(i) === "}") {
          i++;
          return { kind: "object", entries };
        }
        fail("Expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const items: JsonNode[] = [];
      space();
      if (text.charAt(i) === "]") {
        i++;
        return { kind: "array", items };
      }
      for (;;) {
        items.push(value(depth + 1));
        space();
        if (text.charAt(i) === ",") {
          i++;
          continue;
        }
        if (text.charAt(i) === "]") {
          i++;
          return { kind: "array", items };
        }
        fail("Expected ',' or ']'");
      }
    }
    if (c === '"') return { kind: "string", value: string() };
    for (const [word, node] of [
      ["true", { kind: "boolean", value: true }],
      ["false", { kind: "boolean", value: false }],
      ["null", { kind: "null" }],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return node;
      }
    }
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) fail("Unexpected text");
    i += m![0].length;
    return { kind: "number", text: m![0] };
  };
  const string = (): string => {
    const start = i;
    i++;
    let out = "";
    let from = i;
    while (i < text.length && text.charAt(i) !== '"') {
      if (text.charAt(i) === "\\") {
        out += text.slice(from, i);
        const e = text.charAt(i + 1);
        const simple: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
        const plain = simple[e];
        if (plain !== undefined) {
          out += plain;
          i += 2;
        } else if (e === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
          out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
          i += 6;
        } else {
          fail("Bad escape");
        }
        from = i;
      } else {
        i++;
      }
    }
    if (i >= text.length) {
      i = start;
      fail("Unterminated string");
    }
    out += text.slice(from, i);
    i++;
    return out;
  };
  const root = value(0);
  space();
  if (i < text.length) fail("Unexpected text after the value");
  return root;
}

/** `Patient/123` (or a full URL ending so, with or without `_history`): a reference the preview can follow. */
export function followable(key: string, node: JsonNode): string | null {
  if (key !== "reference" || node.kind !== "string") return null;
  return /(^|\/)[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}(\/_history\/[^/]+)?$/.test(node.value) ? node.value : null;
}

/** A one-line summary of a collapsed object or array: `{…} 4 keys`, `[…] 2 items`. */
export function summary(node: JsonNode): string {
  if (node.kind === "object") return `{…} ${node.entries.length} ${node.entries.length === 1 ? "key" : "keys"}`;
  if (node.kind === "array") return `[…] ${node.items.length} ${node.items.length === 1 ? "item" : "items"}`;
  return "";
}

import { describe, expect, it } from "vitest";
import { followable, parseJson, summary, JsonSyntaxError } from "./json";

describe("parseJson", () => {
  it("keeps numbers as written and keys in order", () => {
    const n = parseJson('{"b":181.20,"a":[1e3,-0.5,true,null],"s":"x\\"y\\u00e9"}');
    expect(n).toEqual({
      kind: "object",
      entries: [
        ["b", { kind: "number", text: "181.20" }],
        [
          "a",
          {
            kind: "array",
            items: [
              { kind: "number", text: "1e3" },
              { kind: "number", text: "-0.5" },
              { kind: "boolean", value: true },
              { kind: "null" },
            ],
          },
        ],
        ["s", { kind: "string", value: 'x"yé' }],
      ],
    });
  });

  it("says where the text stops being JSON", () => {
    expect(() => parseJson('{"a":1')).toThrow(JsonSyntaxError);
    expect(() => parseJson('{"a":1} x')).toThrow(/after the value/);
    expect(() => parseJson('{"a":"open')).toThrow(/Unterminated string at character 6/);
  });
});

describe("followable", () => {
  it("takes relative and absolute references, not other strings", () => {
    const s = (value: string) => ({ kind: "string", value }) as const;
    expect(followable("reference", s("Patient/6c5d9ca9-54d7"))).toBe("Patient/6c5d9ca9-54d7");
    expect(followable("reference", s("https://x.org/fhir/Encounter/1/_history/2"))).not.toBeNull();
    expect(followable("reference", s("urn:uuid:1234"))).toBeNull();
    expect(followable("display", s("Patient/1"))).toBeNull();
    expect(summary(parseJson('{"a":1}'))).toBe("{…} 1 key");
  });
});

import { describe, expect, it } from "vitest";
import { emptyForm, formProblems, localToInstant, PRESETS, toRequest } from "./request";

describe("the export form", () => {
  it("needs a server and, for a group export, a plain group id", () => {
    const form = emptyForm(null);
    expect(formProblems(form)).toMatchObject({ server: expect.any(String), groupId: expect.any(String) });
    expect(formProblems({ ...form, serverId: 1, groupId: "https://ehr/fhir/Group/1" }).groupId).toMatch(/only the id/);
    expect(formProblems({ ...form, serverId: 1, groupId: "aco-north" })).toEqual({});
    expect(formProblems({ ...form, serverId: 1, level: "system" })).toEqual({});
  });

  it("refuses patients at system level and type filters without a type", () => {
    const form = { ...emptyForm(1), level: "system" as const, patients: "p1, p2" };
    expect(formProblems(form).patients).toMatch(/all-patients or a group/);
    const filters = { ...emptyForm(1), groupId: "g", typeFilters: "Observation?category=laboratory\ncategory=vital" };
    expect(formProblems(filters).typeFilters).toMatch(/“category=vital”/);
  });

  it("turns a local date and time into a FHIR instant", () => {
    const instant = localToInstant("2026-01-31T08:30");
    expect(instant).toMatch(/^2026-01-3\dT\d{2}:30:00Z$/);
    expect(localToInstant("yesterday")).toBeNull();
    expect(formProblems({ ...emptyForm(1), groupId: "g", since: "31/01/2026" }).since).toBeDefined();
  });

  it("checks “changed up to” like “since”, and wants it after since", () => {
    const form = { ...emptyForm(1), groupId: "g" };
    expect(formProblems({ ...form, until: "" })).toEqual({});
    expect(formProblems({ ...form, until: "2026-02-01T00:00" })).toEqual({});
    expect(formProblems({ ...form, until: "01/02/2026" }).until).toMatch(/Pick a date and a time/);
    expect(formProblems({ ...form, since: "2026-02-01T00:00", until: "2026-01-31T23:59" }).until).toMatch(
      /after “changed since”/,
    );
    expect(formProblems({ ...form, since: "2026-02-01T00:00", until: "2026-02-01T00:00" }).until).toBeDefined();
    // With "since the last export" the typed since is not used, so it cannot clash.
    expect(formProblems({ ...form, sinceLast: true, since: "2026-02-01T00:00", until: "2026-01-01T00:00" })).toEqual({});
  });

  it("sends until only when it is filled", () => {
    const form = { ...emptyForm(1), groupId: "g" };
    expect("until" in toRequest(form)).toBe(false);
    const request = toRequest({ ...form, since: "2026-01-01T00:00", until: "2026-02-01T08:30" });
    expect(request.until).toBe(localToInstant("2026-02-01T08:30"));
    expect(request.until).toMatch(/^2026-02-0\dT\d{2}:30:00Z$/);
    expect(request.since).toBe(localToInstant("2026-01-01T00:00"));
  });

  it("builds the request the engine runs", () => {
    const request = toRequest({
      ...emptyForm(1),
      groupId: " aco-north ",
      types: PRESETS.find((p) => p.id === "financial")!.types,
      patients: "pat-1 pat-2",
      typeFilters: "Claim?status=active\n",
      sinceLast: true,
      since: "2026-01-31T08:30",
    });
    expect(request.level).toEqual({ kind: "group", groupId: "aco-north" });
    expect(request.types).toEqual(["Patient", "Coverage", "Claim", "ExplanationOfBenefit"]);
    expect(request.patients).toEqual(["pat-1", "pat-2"]);
    expect(request.typeFilters).toEqual(["Claim?status=active"]);
    expect(request.since).toBeNull();
  });
});

describe("formFromJob", () => {
  it("gives back the form an export was started from, so running it again asks for the same", async () => {
    const { formFromJob, toRequest } = await import("./request");
    const { job: jobRecord } = await import("../history/fixtures");
    const job = jobRecord({
      request: {
        level: { kind: "group", groupId: "aco-north" },
        outputFormat: null,
        since: "2026-10-01T08:30:00Z",
        types: ["Patient", "Claim"],
        elements: ["id", "meta"],
        patients: [],
        typeFilters: ["Observation?category=laboratory"],
        includeAssociatedData: [],
        lenient: false,
        post: false,
        extra: [],
      },
      settings: { parallel: 4, deleteAfter: true, auth: null, groupName: "ACO North Regional" },
    });
    const form = formFromJob(job);
    expect(form).toMatchObject({ level: "group", groupId: "aco-north", groupName: "ACO North Regional", types: ["Patient", "Claim"], outDir: "" });
    const again = toRequest(form);
    expect(again.since).toBe("2026-10-01T08:30:00Z");
    expect(again.elements).toEqual(["id", "meta"]);
    expect(again.typeFilters).toEqual(["Observation?category=laboratory"]);
    expect(again.level).toEqual({ kind: "group", groupId: "aco-north" });
  });
});

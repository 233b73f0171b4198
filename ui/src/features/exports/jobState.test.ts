import { describe, expect, it } from "vitest";
import { job } from "../history/fixtures";
import { INTERRUPTED_STATES, isInterrupted, isUnfinished } from "./jobState";

describe("interrupted exports", () => {
  it("are the unfinished states", () => {
    expect(INTERRUPTED_STATES).toEqual(["created", "kicked_off", "downloading"]);
    expect(isUnfinished("kicked_off")).toBe(true);
    expect(isUnfinished("failed")).toBe(false);
    expect(isUnfinished("completed_with_problems")).toBe(false);
  });

  it("are unfinished jobs not running here", () => {
    expect(isInterrupted({ job: job({ state: "downloading" }), running: false })).toBe(true);
    expect(isInterrupted({ job: job({ state: "downloading" }), running: true })).toBe(false);
    expect(isInterrupted({ job: job({ state: "created" }), running: false })).toBe(true);
    expect(isInterrupted({ job: job({ state: "cancelled" }), running: false })).toBe(false);
  });
});

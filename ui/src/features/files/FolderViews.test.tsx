import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { viewInfo } from "../tables/fixtures";
import { FolderViews } from "./FolderViews";

const { listViews, previewViewInFolder } = vi.hoisted(() => ({ listViews: vi.fn(), previewViewInFolder: vi.fn() }));
vi.mock("../../ipc/commands", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../ipc/commands")>();
  return { ...real, commands: { ...real.commands, listViews, previewViewInFolder } };
});

describe("flat views on the Files page", () => {
  it("offers the views of the types this folder holds, each with its first rows", async () => {
    listViews.mockResolvedValue([viewInfo(), viewInfo({ name: "claim_line", title: "Claim lines", resource: "Claim" })]);
    previewViewInFolder.mockResolvedValue({ columns: ["id", "gender"], rows: [["p1", "female"]], more: false, failure: null });
    render(<FolderViews folder="/data/export" types={["Patient", "Observation"]} />);
    fireEvent.click(await screen.findByTestId("preview-patient"));
    expect(await screen.findByText("female")).toBeTruthy();
    expect(previewViewInFolder).toHaveBeenCalledWith("/data/export", { kind: "builtIn", name: "patient" });
    expect(screen.queryByText("Claim lines")).toBeNull();
    expect(screen.getByText("All 1 row.")).toBeTruthy();
  });
});

import { fireEvent, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { SplitHandle, dragWidth, useSplitWidth } from "./SplitHandle";

function Panes() {
  const split = useSplitWidth("test", { initial: 300, min: 200, max: 600 });
  return (
    <div>
      <output data-testid="width">{split.width}</output>
      <SplitHandle {...split.handle} label="Resize the list" />
    </div>
  );
}

describe("SplitHandle", () => {
  beforeEach(() => localStorage.clear());

  it("follows a drag, within its bounds", () => {
    expect(dragWidth(300, 100, 160, 200, 600)).toBe(360);
    expect(dragWidth(300, 100, -500, 200, 600)).toBe(200);
    expect(dragWidth(300, 100, 900, 200, 600)).toBe(600);
  });

  it("moves with the arrow keys, stops at the bounds and is reset by Enter", async () => {
    render(<Panes />);
    const handle = screen.getByRole("separator", { name: "Resize the list" });
    handle.focus();
    await userEvent.keyboard("{ArrowRight}");
    expect(handle.getAttribute("aria-valuenow")).toBe("316");
    await userEvent.keyboard("{Shift>}{ArrowLeft}{/Shift}");
    expect(handle.getAttribute("aria-valuenow")).toBe("252");
    await userEvent.keyboard("{Home}");
    expect(screen.getByTestId("width").textContent).toBe("200");
    await userEvent.keyboard("{ArrowLeft}");
    expect(screen.getByTestId("width").textContent).toBe("200");
    await userEvent.keyboard("{End}");
    expect(screen.getByTestId("width").textContent).toBe("600");
    await userEvent.keyboard("{Enter}");
    expect(screen.getByTestId("width").textContent).toBe("300");
  });

  it("keeps the width for the next time, and ignores a stored value out of bounds", async () => {
    const first = render(<Panes />);
    screen.getByRole("separator").focus();
    await userEvent.keyboard("{End}");
    first.unmount();
    const second = render(<Panes />);
    expect(screen.getByTestId("width").textContent).toBe("600");
    second.unmount();

    localStorage.setItem("haul.split.test", "5000");
    render(<Panes />);
    expect(screen.getByTestId("width").textContent).toBe("300");
  });

  it("a double click puts the width back", () => {
    localStorage.setItem("haul.split.test", "480");
    render(<Panes />);
    const handle = screen.getByRole("separator");
    expect(handle.getAttribute("aria-valuenow")).toBe("480");
    fireEvent.doubleClick(handle);
    expect(handle.getAttribute("aria-valuenow")).toBe("300");
  });
});

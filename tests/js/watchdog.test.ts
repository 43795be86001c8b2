/** The view notices a kernel that stops answering (busy, interrupted, restarted). */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PING_AFTER_MS, SILENT_AFTER_MS } from "../../js/widget";
import { mount, resultFor } from "./memory-model";

beforeEach(() => {
  vi.spyOn(HTMLCanvasElement.prototype, "getContext").mockReturnValue(null);
  vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "setTimeout", "Date"] });
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("kernel watchdog", () => {
  it("tells a silent kernel from a slow one, and forgets it when the kernel answers", async () => {
    const { model, root } = await mount({ text: "a", ...resultFor("a", ["<bos>", "a"]) });
    const box = root.querySelector<HTMLTextAreaElement>(".gw-text")!;
    box.value = "ab";
    box.dispatchEvent(new Event("input"));
    vi.advanceTimersByTime(PING_AFTER_MS + 1000);
    expect(model.sent).toEqual([{ kind: "ping", id: 1 }]);
    model.kernelSends({ kind: "pong", id: 1 }); // a slow forward pass: the kernel is there
    vi.advanceTimersByTime(SILENT_AFTER_MS - 1000);
    expect(root.dataset.kernel).toBe("alive");
    vi.advanceTimersByTime(PING_AFTER_MS + SILENT_AFTER_MS + 2000); // pinged again: no pong
    expect(model.sent).toHaveLength(2);
    expect(root.dataset.kernel).toBe("silent");
    expect(root.querySelector<HTMLElement>(".gw-silent")!.hidden).toBe(false);
    expect(box.value).toBe("ab"); // the user's text is kept
    model.kernelSets(resultFor("ab", ["<bos>", "ab"]));
    expect(root.dataset.kernel).toBe("alive");
    expect(root.querySelector<HTMLElement>(".gw-silent")!.hidden).toBe(true);
  });
});

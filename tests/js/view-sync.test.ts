import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BACKSTOP_MS, DRAG_SYNC_INTERVAL_MS, ViewSync } from "../../js/view-sync";

describe("ViewSync: view changes reach the kernel after the frame that shows them", () => {
  let sent: number[];
  let sync: ViewSync;
  beforeEach(() => {
    vi.useFakeTimers();
    sent = [];
    sync = new ViewSync(() => sent.push(Date.now()), () => Date.now());
  });
  afterEach(() => vi.useRealTimers());

  it("sends a click once its frame has painted, not before", () => {
    sync.changed("click");
    expect(sent).toHaveLength(0);
    sync.painted(false);
    expect(sent).toHaveLength(0); // the timer fires after the frame
    vi.advanceTimersByTime(0);
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(1000);
    expect(sent).toHaveLength(1); // nothing left to send
  });

  it("sends a dragged slider's steps at most every interval, and always the last one", () => {
    const start = Date.now();
    for (let step = 0; step < 30; step++) { // 30 steps, one a 16 ms frame: 480 ms of dragging
      sync.changed("drag");
      sync.painted(false);
      vi.advanceTimersByTime(16);
    }
    vi.advanceTimersByTime(1000);
    const gaps = sent.slice(1).map((t, k) => t - sent[k]);
    expect(sent[0] - start).toBeLessThan(16); // the first step goes with its frame
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(DRAG_SYNC_INTERVAL_MS);
    expect(sent.length).toBeLessThanOrEqual(Math.ceil(480 / DRAG_SYNC_INTERVAL_MS) + 1);
    expect(sent.at(-1)! - (start + 29 * 16)).toBeLessThanOrEqual(DRAG_SYNC_INTERVAL_MS);
  });

  it("does not hold back a change the view waits for, nor one made by a click", () => {
    sync.changed("drag");
    sync.painted(false);
    vi.advanceTimersByTime(0);
    expect(sent).toHaveLength(1);
    sync.changed("drag");
    sync.painted(true); // e.g. a layer the page does not hold
    vi.advanceTimersByTime(0);
    expect(sent).toHaveLength(2);
    sync.changed("click");
    sync.painted(false);
    vi.advanceTimersByTime(0);
    expect(sent).toHaveLength(3);
  });

  it("sends anyway when no frame comes, and at once on flush or dispose", () => {
    sync.changed("click");
    vi.advanceTimersByTime(BACKSTOP_MS - 1);
    expect(sent).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(sent).toHaveLength(1);
    sync.changed("drag");
    sync.flush(); // typing: the text goes now, the pending step with it
    expect(sent).toHaveLength(2);
    vi.advanceTimersByTime(1000);
    expect(sent).toHaveLength(2);
    sync.changed("click");
    sync.dispose();
    expect(sent).toHaveLength(3);
    sync.dispose();
    vi.advanceTimersByTime(1000);
    expect(sent).toHaveLength(3);
  });
});

describe("ViewSync when the kernel side is gone", () => {
  it("closes quietly when the last change cannot be sent", () => {
    vi.useFakeTimers();
    const sync = new ViewSync(() => {
      throw new Error("Syncing error: no comm channel defined");
    });
    sync.changed("click");
    expect(() => sync.dispose()).not.toThrow();
    vi.advanceTimersByTime(1000); // and no timer is left to try again
    vi.useRealTimers();
  });
});

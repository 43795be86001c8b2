/**
 * When view changes made in the page (layer, head, view, pin, ...) are sent to the kernel.
 *
 * Every message makes the kernel busy and then idle, and JupyterLab answers each with
 * restyling, relayout and favicon fetches: about 7 ms of the page's main thread, measured
 * (benchmarks/README.md). Sent at once, that work landed before the frame showing the change;
 * sent on every step of a dragged slider, it took the frames a smooth drag needs. So a change
 * is drawn first and sent once the frame showing it has painted, and slider steps go at most
 * every DRAG_SYNC_INTERVAL_MS, the last one always. Python's `w.layer` lags the slider by that
 * much at most; when the view waits for the kernel (a layer it does not hold) nothing waits.
 */

/** Slider steps reach the kernel at most this often. */
export const DRAG_SYNC_INTERVAL_MS = 200;
/** Sent by then even when no frame comes (a hidden tab does not draw). */
export const BACKSTOP_MS = 100;

export type ChangeKind = "click" | "drag";

export class ViewSync {
  private pending = false;
  /** A pending change that is not a slider step: it goes as soon as it is painted. */
  private eager = false;
  private lastSent = -Infinity;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly save: () => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Something changed in the page; the caller redraws. */
  changed(kind: ChangeKind): void {
    this.pending = true;
    this.eager ||= kind === "click";
    if (this.timer === undefined) this.schedule(Math.max(BACKSTOP_MS, this.throttled()));
  }

  /** The frame showing the changes was drawn (a timer set now fires after its paint). */
  painted(viewWaitsForKernel: boolean): void {
    if (!this.pending) return;
    this.schedule(this.eager || viewWaitsForKernel ? 0 : this.throttled());
  }

  /** Send now, pending view changes included (typing: the forward pass waits for it). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = this.eager = false;
    this.lastSent = this.now();
    this.save();
  }

  /** Closing: a change the kernel has not heard of goes now, if the kernel side is still there. */
  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.pending) return;
    try {
      this.flush();
    } catch {
      // closed from Python (`w.close()`): ipywidgets has no comm left to send on
    }
  }

  private throttled(): number {
    return Math.max(0, this.lastSent + DRAG_SYNC_INTERVAL_MS - this.now());
  }

  private schedule(delay: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), delay);
  }
}

/**
 * The strip of a pinned token: what it attends to ("out") and what attends to it ("in") in
 * every layer and head at once, one row per (layer, head), one column per token.
 */
import { paintGrid, type Scale } from "./colour";
import { element } from "./dom";
import { displayToken } from "./layout";
import type { TokenStrips } from "./wire";

/** Height of one (layer, head) row on screen, in CSS pixels. */
export const STRIP_ROW_PIXELS = 4;
/** Width of a strip on screen, in CSS pixels, whatever the number of tokens. */
export const STRIP_WIDTH = 320;

export class TokenStrip {
  readonly root: HTMLDivElement;
  private readonly title: HTMLDivElement;
  private readonly readout: HTMLDivElement;
  private readonly axis: HTMLDivElement;
  private readonly canvases: Record<"out" | "in", HTMLCanvasElement>;
  private strips: TokenStrips | null = null;
  private tokens: string[] = [];

  constructor(onUnpin: () => void) {
    this.root = element("div", "gw-strip");
    const header = element("div", "gw-strip-header", this.root);
    this.title = element("div", "gw-strip-title", header);
    const unpin = element("button", "gw-unpin", header);
    unpin.type = "button";
    unpin.textContent = "unpin";
    unpin.addEventListener("click", onUnpin);
    const body = element("div", "gw-strip-body", this.root);
    this.axis = element("div", "gw-strip-axis", body);
    this.canvases = { out: document.createElement("canvas"), in: document.createElement("canvas") };
    for (const direction of ["out", "in"] as const) {
      const column = element("div", `gw-strip-column gw-strip-${direction}`, body);
      element("div", "gw-strip-label", column).textContent =
        direction === "out" ? "attends to →" : "← attended by";
      const canvas = this.canvases[direction];
      canvas.addEventListener("mousemove", (event) => this.hover(direction, event));
      column.appendChild(canvas);
    }
    this.readout = element("div", "gw-strip-readout", this.root);
  }

  draw(strips: TokenStrips, tokens: string[], scale: Scale): void {
    this.strips = strips;
    this.tokens = tokens;
    const { layers, heads, n, index } = strips;
    this.root.dataset.index = String(index);
    this.title.textContent =
      `Pinned: ${displayToken(tokens[index] ?? "")} [${index}], every layer (rows, top = layer 0) ` +
      `and head (${heads} rows a layer), every token (columns)`;
    // Layer numbers beside the rows, as many as fit at a legible size.
    const layerPixels = heads * STRIP_ROW_PIXELS;
    const every = Math.ceil(12 / layerPixels);
    this.axis.replaceChildren(
      ...Array.from({ length: Math.ceil(layers / every) }, (_, k) => {
        const tick = element("div", "gw-strip-tick");
        tick.style.height = `${layerPixels * every}px`;
        tick.textContent = `L${k * every}`;
        return tick;
      }),
    );
    for (const direction of ["out", "in"] as const) {
      const canvas = this.canvases[direction];
      paintGrid(
        canvas,
        layers * heads,
        n,
        (row, k) => strips.weight(direction, Math.floor(row / heads), row % heads, k),
        scale,
      );
      canvas.style.width = `${STRIP_WIDTH}px`;
      canvas.style.height = `${layers * heads * STRIP_ROW_PIXELS}px`;
    }
  }

  private hover(direction: "out" | "in", event: MouseEvent): void {
    const strips = this.strips;
    if (!strips) return;
    const box = this.canvases[direction].getBoundingClientRect();
    if (box.width === 0) return;
    const k = Math.floor(((event.clientX - box.left) / box.width) * strips.n);
    const row = Math.floor(((event.clientY - box.top) / box.height) * strips.layers * strips.heads);
    if (k < 0 || k >= strips.n || row < 0 || row >= strips.layers * strips.heads) return;
    const [layer, head] = [Math.floor(row / strips.heads), row % strips.heads];
    const pinned = displayToken(this.tokens[strips.index] ?? "");
    const other = displayToken(this.tokens[k] ?? "");
    const pair = direction === "out" ? `${pinned} → ${other}` : `${other} → ${pinned}`;
    this.readout.textContent =
      `layer ${layer}, head ${head}: ${pair} ${strips.weight(direction, layer, head, k).toFixed(4)}`;
  }
}

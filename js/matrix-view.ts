/**
 * The matrix view: one layer's attention (one head, or the mean of all heads) as a heatmap with
 * the tokens on both axes and the exact weight under the pointer. Past MATRIX_SIDE tokens the
 * map is downsampled to MATRIX_SIDE pixels a side, each pixel the strongest cell it covers (a
 * 2048 x 2048 canvas cost headless Chromium about 0.5 s to composite); the readout always reads
 * the exact cell under the pointer.
 */
import { paintGrid, type Scale } from "./colour";
import type { Colours, MatrixImage } from "./image";
import { element } from "./dom";
import { displayToken } from "./layout";
import type { AttentionBlock } from "./wire";

/** Largest side of the map on screen, in CSS pixels. */
export const MATRIX_SIDE = 480;
/** Below this many pixels a cell, labels would overlap: the axes go unlabelled (hover reads). */
export const MIN_LABELLED_CELL = 10;

export interface MatrixInput {
  block: AttentionBlock;
  layer: number;
  heads: number[];
  tokens: string[];
  scale: Scale;
  pinned: number;
}

export class MatrixView {
  readonly root: HTMLDivElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly rowLabels: HTMLDivElement;
  private readonly colLabels: HTMLDivElement;
  private readonly readout: HTMLDivElement;
  private readonly pin: HTMLDivElement;
  private input: MatrixInput | null = null;
  private drawnKey = "";
  private drawnBlock: AttentionBlock | null = null;

  constructor(private readonly onPick: (row: number) => void) {
    this.root = element("div", "gw-matrix");
    this.readout = element("div", "gw-matrix-readout", this.root);
    this.readout.textContent = "Point at a cell to read its weight; click to pin its row.";
    const grid = element("div", "gw-matrix-grid", this.root);
    element("div", "gw-matrix-corner", grid);
    this.colLabels = element("div", "gw-matrix-cols", grid);
    this.rowLabels = element("div", "gw-matrix-rows", grid);
    const frame = element("div", "gw-matrix-frame", grid);
    this.canvas = element("canvas", "gw-matrix-canvas", frame);
    this.pin = element("div", "gw-matrix-pin", frame);
    this.canvas.addEventListener("mousemove", (event) => this.hover(event));
    this.canvas.addEventListener("click", (event) => {
      const cell = this.cellAt(event);
      if (cell) this.onPick(cell.i);
    });
  }

  /** Cell side in CSS pixels for `n` tokens. */
  static cellSize(n: number): number {
    return n ? Math.min(22, MATRIX_SIDE / n) : 0;
  }

  draw(input: MatrixInput): void {
    this.input = input;
    const { block, layer, heads, tokens, scale } = input;
    const n = tokens.length;
    const cell = MatrixView.cellSize(n);
    // The block arrives with its tokens: a new block is new data, so tokens need no comparing.
    const key = [layer, heads.join(","), scale].join("|");
    if (key !== this.drawnKey || block !== this.drawnBlock) {
      this.drawnKey = key;
      this.drawnBlock = block;
      if (n <= MATRIX_SIDE) {
        paintGrid(this.canvas, n, n, (i, j) => meanWeight(block, layer, heads, i, j), scale);
      } else {
        const pooled = strongestPerPixel(block, layer, heads, n, MATRIX_SIDE);
        paintGrid(this.canvas, MATRIX_SIDE, MATRIX_SIDE, (r, c) => pooled[r * MATRIX_SIDE + c], scale);
      }
      this.canvas.style.width = this.canvas.style.height = `${n * cell}px`;
      this.canvas.dataset.n = String(n);
      const labelled = cell >= MIN_LABELLED_CELL;
      this.root.classList.toggle("gw-matrix-unlabelled", !labelled);
      for (const [axis, side] of [
        [this.rowLabels, "row"],
        [this.colLabels, "col"],
      ] as const) {
        axis.replaceChildren(
          ...(labelled ? tokens : []).map((token, index) => {
            const label = element("div", `gw-matrix-label gw-matrix-${side}-label`);
            label.style[side === "row" ? "height" : "width"] = `${cell}px`;
            label.textContent = displayToken(token);
            label.title = `${index}: ${JSON.stringify(token)}`;
            return label;
          }),
        );
      }
    }
    const pinned = input.pinned >= 0 && input.pinned < n;
    this.pin.hidden = !pinned;
    if (pinned) {
      this.pin.style.top = `${input.pinned * cell}px`;
      this.pin.style.height = `${cell}px`;
      this.pin.style.width = `${n * cell}px`;
    }
  }

  /** What the view shows, for the image export; null before the first draw. */
  image(title: string, colours: Colours): MatrixImage | null {
    if (!this.input) return null;
    const n = this.input.tokens.length;
    const cell = MatrixView.cellSize(n);
    return {
      title,
      tokens: this.input.tokens,
      cell,
      labelled: cell >= MIN_LABELLED_CELL,
      heatmap: this.canvas.toDataURL("image/png"),
      colours,
    };
  }

  private cellAt(event: MouseEvent): { i: number; j: number } | null {
    const n = this.input?.tokens.length ?? 0;
    const box = this.canvas.getBoundingClientRect();
    if (!n || box.width === 0) return null;
    const j = Math.floor(((event.clientX - box.left) / box.width) * n);
    const i = Math.floor(((event.clientY - box.top) / box.height) * n);
    return i >= 0 && j >= 0 && i < n && j < n ? { i, j } : null;
  }

  private hover(event: MouseEvent): void {
    const cell = this.cellAt(event);
    if (!cell || !this.input) return;
    const { block, layer, heads, tokens } = this.input;
    const weight = meanWeight(block, layer, heads, cell.i, cell.j);
    const headLabel = heads.length === 1 ? `head ${heads[0]}` : `mean of ${heads.length} heads`;
    this.readout.textContent =
      `${displayToken(tokens[cell.i])} [${cell.i}] → ${displayToken(tokens[cell.j])} [${cell.j}]: ` +
      `${weight.toFixed(4)} (layer ${layer}, ${headLabel})`;
  }
}

/**
 * The `side` x `side` picture of an n x n map (n > side): each pixel holds the strongest of the
 * cells it covers, so a sharp link stays visible however long the text.
 */
export function strongestPerPixel(
  block: AttentionBlock,
  layer: number,
  heads: number[],
  n: number,
  side: number,
): Float32Array {
  const pooled = new Float32Array(side * side);
  const columns = Int32Array.from({ length: n }, (_, j) => Math.floor((j * side) / n));
  const [only] = heads;
  for (let i = 0; i < n; i++) {
    const row = Math.floor((i * side) / n) * side;
    for (let j = 0; j < n; j++) {
      const at = row + columns[j];
      const weight =
        heads.length === 1 ? block.weight(layer, only, i, j) : meanWeight(block, layer, heads, i, j);
      if (weight > pooled[at]) pooled[at] = weight;
    }
  }
  return pooled;
}

/** Weight from token i to token j, averaged over `heads`. */
export function meanWeight(
  block: AttentionBlock,
  layer: number,
  heads: number[],
  i: number,
  j: number,
): number {
  let sum = 0;
  for (const head of heads) sum += block.weight(layer, head, i, j);
  return heads.length ? sum / heads.length : 0;
}

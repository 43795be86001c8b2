/** The matrix and model views, the pinned token, and the view options, in jsdom. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LOG_FLOOR, heat, scaled } from "../../js/colour";
import { groupLines } from "../../js/layout";
import { THUMBNAIL_PIXELS, layerTypeLabel, sharingNote } from "../../js/model-view";
import { MATRIX_SIDE, strongestPerPixel } from "../../js/matrix-view";
import { SCALE, decodeAttention, decodeStrips, decodeWindow, stripsFromBlock } from "../../js/wire";
import { diagonalHead, encode } from "./fixtures";
import { afterPaint, mount, nextFrame, resultFor } from "./memory-model";

beforeEach(() => {
  vi.spyOn(HTMLCanvasElement.prototype, "getContext").mockReturnValue(null);
});

afterEach(() => {
  document.body.replaceChildren();
  vi.restoreAllMocks();
});

describe("colour scales", () => {
  it("maps weights linearly, logarithmically from LOG_FLOOR, or by a square root", () => {
    expect(scaled(0.25, "linear")).toBe(0.25);
    expect(scaled(0.25, "power")).toBeCloseTo(0.5);
    expect(scaled(1, "log")).toBeCloseTo(1);
    expect(scaled(0.01, "log")).toBeCloseTo(0.5); // halfway between 1e-4 and 1 in decades
    expect(scaled(LOG_FLOOR / 2, "log")).toBe(0);
    expect(scaled(1.5, "linear")).toBe(1);
  });

  it("runs from near white to dark blue", () => {
    expect(heat(0)).toEqual([247, 251, 255]);
    expect(heat(1)).toEqual([8, 48, 107]);
  });
});

describe("model view words", () => {
  it("labels layer types and grouped-query attention from the config", () => {
    expect(layerTypeLabel("sliding_attention")).toBe("sliding window");
    expect(layerTypeLabel("full_attention")).toBe("full");
    expect(layerTypeLabel(undefined)).toBe("");
    expect(sharingNote(3, 1)).toContain("3 query heads of each layer share 1 key/value head");
    expect(sharingNote(8, 2)).toContain("4 query heads per key/value head");
    expect(sharingNote(12, 12)).toBe("");
  });
});

describe("pinned token", () => {
  const encoded = encode([[diagonalHead(3, 0.5)], [diagonalHead(3, 0.8)]]);
  const block = decodeAttention(encoded.bytes, encoded.meta)!;

  it("draws lines leaving and entering the pinned token only", () => {
    const pairs = groupLines(block, 0, [0], { side: "both", index: 1 }).flatMap((g) => g.pairs);
    expect(pairs.every(([i, j]) => i === 1 || j === 1)).toBe(true);
    expect(pairs).toHaveLength(5); // 1->0,1->1,1->2 and 0->1,2->1
  });

  it("reads strips from the attention or from the kernel's buffer alike", () => {
    const fromBlock = stripsFromBlock(block, 2, 2);
    expect(fromBlock.weight("out", 1, 0, 2)).toBeCloseTo(0.8, 4);
    expect(fromBlock.weight("in", 1, 0, 0)).toBeCloseTo(0.1, 4);
    // [2 directions, 2 layers, 1 head, 3 tokens], as gemma_widget/projection.token_strips
    const values = new Uint16Array(12);
    for (let k = 0; k < 3; k++) {
      values[k] = fromBlock.weight("out", 0, 0, k) * SCALE;
      values[3 + k] = fromBlock.weight("out", 1, 0, k) * SCALE;
      values[6 + k] = fromBlock.weight("in", 0, 0, k) * SCALE;
      values[9 + k] = fromBlock.weight("in", 1, 0, k) * SCALE;
    }
    const sent = decodeStrips(new DataView(values.buffer), { index: 2, layers: 2, heads: 1, n: 3 })!;
    for (const direction of ["out", "in"] as const)
      for (let k = 0; k < 3; k++)
        expect(sent.weight(direction, 1, 0, k)).toBeCloseTo(fromBlock.weight(direction, 1, 0, k), 4);
    expect(decodeStrips(new DataView(new ArrayBuffer(0)), {})).toBeNull();
  });
});

describe("views in the widget", () => {
  const tokens = ["<bos>", "a", " b"];

  it("switches views from the tabs and shows one pane at a time", async () => {
    const { model, root } = await mount({ text: "a b", ...resultFor("a b", tokens) });
    expect(root.dataset.view).toBe("head");
    root.querySelector<HTMLButtonElement>('.gw-view-tab[data-view="matrix"]')!.click();
    await afterPaint();
    expect(model.saved.at(-1)).toEqual({ view: "matrix" });
    await nextFrame();
    expect(root.dataset.view).toBe("matrix");
    expect(root.querySelector<HTMLElement>(".gw-matrix")!.hidden).toBe(false);
    expect(root.querySelector<HTMLElement>(".gw-head-view")!.hidden).toBe(true);
    const rowLabels = [...root.querySelectorAll(".gw-matrix-row-label")].map((l) => l.textContent);
    expect(rowLabels).toEqual(["<bos>", "a", " b"]);
    expect(root.querySelector<HTMLCanvasElement>(".gw-matrix-canvas")!.dataset.n).toBe("3");
  });

  it("draws every layer and head in the model view with its statistic; a click opens it", async () => {
    const { model, root } = await mount({
      text: "a b",
      ...resultFor("a b", tokens),
      view: "model",
      num_kv_heads: 1,
      layer_types: ["full_attention"],
      head_stats: { entropy: [[0.25, 1.5]] },
    });
    const thumbs = [...root.querySelectorAll<HTMLElement>(".gw-thumb")];
    expect(thumbs.map((t) => t.querySelector(".gw-thumb-stat")!.textContent)).toEqual(["0.25", "1.50"]);
    expect(root.querySelector(".gw-model-layer")!.textContent).toBe("layer 0 full");
    expect(root.querySelector(".gw-model-note")!.textContent).toContain("share 1 key/value head");
    thumbs[1].click();
    await afterPaint();
    expect(model.saved.at(-1)).toEqual({ layer: 0, head: 1, all_heads: false, view: "head" });
  });

  it("paints a map with no more pixels than it shows", async () => {
    const long = Array.from({ length: 100 }, (_, k) => `t${k}`);
    const { root } = await mount({ text: "long", ...resultFor("long", long), view: "model" });
    const sizes = [...root.querySelectorAll<HTMLCanvasElement>(".gw-thumb canvas")].map((c) => c.width);
    expect(sizes).toEqual([THUMBNAIL_PIXELS, THUMBNAIL_PIXELS]); // 100 x 100 cells, 64 x 64 pixels
    const short = await mount({ text: "a b", ...resultFor("a b", tokens), view: "model" });
    expect(short.root.querySelector<HTMLCanvasElement>(".gw-thumb canvas")!.width).toBe(tokens.length);
  });

  it("writes the statistics under the maps when they arrive after the attention", async () => {
    const { model, root } = await mount({ text: "a b", ...resultFor("a b", tokens), view: "model" });
    const captions = () => [...root.querySelectorAll(".gw-thumb-stat")].map((c) => c.textContent);
    expect(captions()).toEqual(["", ""]);
    model.kernelSets({ head_stats: { entropy: [[0.5, 0.75]] } });
    await nextFrame();
    expect(captions()).toEqual(["0.50", "0.75"]);
  });

  it("pins a clicked token, shows its strip, and unpins on a second click", async () => {
    const { model, root } = await mount({ text: "a b", ...resultFor("a b", tokens) });
    const token = root.querySelector<HTMLElement>('.gw-token[data-side="source"][data-index="1"]')!;
    token.click();
    await afterPaint();
    expect(model.saved.at(-1)).toEqual({ selected_token: 1 });
    await nextFrame();
    expect(token.classList.contains("gw-pinned")).toBe(true);
    const strip = root.querySelector<HTMLElement>(".gw-strip")!;
    expect(strip.hidden).toBe(false);
    expect(strip.dataset.index).toBe("1");
    // both columns carry weights: what "a" attends to, and what attends to "a"
    const targetWeights = [...root.querySelectorAll('.gw-token[data-side="target"] .gw-weight')];
    expect(targetWeights.map((w) => w.textContent)).toEqual(["0.250", "0.500", "0.250"]);
    token.click();
    await afterPaint();
    expect(model.saved.at(-1)).toEqual({ selected_token: -1 });
    await nextFrame();
    expect(strip.hidden).toBe(true);
  });

  it("never draws rows made with other options, and marks renormalised rows", async () => {
    const { model, root } = await mount({ text: "a b", ...resultFor("a b", tokens) });
    root.querySelector<HTMLInputElement>(".gw-merge-words")!.click();
    await afterPaint();
    expect(model.saved.at(-1)).toEqual({ merge_words: true });
    await nextFrame();
    expect(root.dataset.status).toBe("running"); // the rows on screen are still tokens
    const merged = resultFor("a b", ["a b"]);
    model.kernelSets({
      ...merged,
      _attention_meta: { ...(merged._attention_meta as object), merge_words: true } as never,
      renormalised: true,
    });
    await nextFrame();
    expect(root.dataset.status).toBe("ready");
    expect(root.querySelectorAll('.gw-token[data-side="source"]')).toHaveLength(1);
    expect(root.querySelector<HTMLElement>(".gw-renormalised")!.hidden).toBe(false);
  });
});

describe("long texts", () => {
  const n = 300;
  const tokens = Array.from({ length: n }, (_, k) => (k === 0 ? "<bos>" : ` w${k}`));
  const uniform = Array.from({ length: n }, () => Array.from({ length: n }, () => 1 / n));

  it("keep each token's strongest lines only", () => {
    const row = (i: number) => Array.from({ length: n }, (_, j) => (j < 20 ? (i === j ? 0.24 : 0.04) : 0));
    const encoded = encode([[Array.from({ length: n }, (_, i) => row(i))]]);
    const block = decodeAttention(encoded.bytes, encoded.meta)!;
    const pairs = groupLines(block, 0, [0], null, { start: 0, end: 128 }).flatMap((g) => g.pairs);
    const fromZero = pairs.filter(([i]) => i === 0);
    expect(fromZero).toHaveLength(8); // MAX_LINES_PER_TOKEN of its 20 lines over the threshold
    expect(fromZero.some(([, j]) => j === 0)).toBe(true); // the strongest, to itself, is kept
    expect(pairs.every(([i, j]) => i < 128 && j < 128)).toBe(true);
  });

  it("show a window of tokens that moves with its slider and with the pinned token", async () => {
    const encoded = encode([[uniform]]);
    const { model, root } = await mount({
      text: "t", ...resultFor("t", tokens), num_heads: 1, _attention_buffer: encoded.bytes,
      _attention_meta: encoded.meta,
    });
    const indices = () =>
      [...root.querySelectorAll<HTMLElement>('.gw-token[data-side="source"]')].map((t) => Number(t.dataset.index));
    expect(root.querySelector<HTMLElement>(".gw-window-bar")!.hidden).toBe(false);
    expect(indices()).toEqual(Array.from({ length: 128 }, (_, k) => k));
    const slider = root.querySelector<HTMLInputElement>(".gw-window")!;
    expect(slider.max).toBe(String(n - 128));
    slider.value = "100";
    slider.dispatchEvent(new Event("input"));
    await nextFrame();
    expect(indices()[0]).toBe(100);
    expect(root.querySelector(".gw-window-label")!.textContent).toContain("Tokens 100–227 of 300");
    model.kernelSets({ selected_token: 290 });
    await nextFrame();
    expect(indices()).toContain(290);
    expect(root.querySelector('.gw-token[data-index="290"]')!.classList.contains("gw-pinned")).toBe(true);
  });

  it("draw another layer from the kernel's window of every layer, for the rows it holds only", async () => {
    const encoded = encode([[uniform]]); // the kernel sent layer 0 of 2
    const { model, root } = await mount({
      text: "t", ...resultFor("t", tokens), num_layers: 2, num_heads: 1,
      _attention_buffer: encoded.bytes, _attention_meta: encoded.meta,
    });
    model.kernelSets({ layer: 1 });
    await nextFrame();
    expect(root.dataset.drawn).toBe(""); // layer 1 is not here yet: nothing stale is drawn
    // Rows 0-127 of both layers; in layer 1 every token attends to itself only.
    const rows = 128;
    const values = new Uint16Array(2 * rows * rows);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < rows; j++) values[i * rows + j] = Math.round(SCALE / n);
      values[rows * rows + i * rows + i] = SCALE;
    }
    const windowMeta = { layers: [0, 2] as [number, number], heads: 1, n, start: 0, rows, dtype: "uint16" as const };
    model.kernelSets({ _window_buffer: new DataView(values.buffer), _window_meta: windowMeta });
    await nextFrame();
    expect(root.dataset.drawn).toBe("head:1:0");
    const source = root.querySelector<HTMLElement>('.gw-token[data-side="source"][data-index="5"]')!;
    source.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    await nextFrame();
    const weights = [...root.querySelectorAll('.gw-token[data-side="target"] .gw-weight')].map((w) => w.textContent);
    expect(weights[5]).toBe("1.000");
    expect(weights[6]).toBe("0.000");
    source.dispatchEvent(new MouseEvent("mouseout", { bubbles: true }));

    const slider = root.querySelector<HTMLInputElement>(".gw-window")!;
    slider.value = "100"; // rows 100-227: the window the kernel sent does not hold them
    slider.dispatchEvent(new Event("input"));
    await afterPaint();
    expect(model.saved).toContainEqual({ window_start: 100 }); // the kernel sends that window
    expect(root.dataset.drawn).toBe("");
    model.kernelSets({ _window_meta: { ...windowMeta, start: 100 }, _window_buffer: new DataView(values.slice().buffer) });
    await nextFrame();
    expect(root.dataset.drawn).toBe("head:1:0");

    expect(decodeWindow(new DataView(new ArrayBuffer(0)), windowMeta)).toBeNull();
    expect(() => decodeWindow(new DataView(new ArrayBuffer(6)), windowMeta)).toThrow(/window buffer holds 3 values, meta says 32768/);
    // A window made for other rows (words merged) is never drawn as tokens.
    model.kernelSets({ _window_meta: { ...windowMeta, start: 100, merge_words: true }, _window_buffer: new DataView(values.slice().buffer) });
    await nextFrame();
    expect(root.dataset.drawn).toBe("");
  });
});

describe("matrix view of a long text", () => {
  it("downsamples to MATRIX_SIDE pixels a side, each pixel the strongest cell it covers", () => {
    const n = 1000;
    const values = new Uint16Array(n * n);
    values[999 * n + 2] = SCALE; // one sharp link, far from the diagonal
    for (let i = 0; i < n; i++) values[i * n + i] = Math.round(SCALE / 10);
    const block = decodeAttention(new DataView(values.buffer), { layers: [0, 1], heads: 1, n, dtype: "uint16" })!;
    const pooled = strongestPerPixel(block, 0, [0], n, MATRIX_SIDE);
    expect(pooled).toHaveLength(MATRIX_SIDE * MATRIX_SIDE);
    const row = Math.floor((999 * MATRIX_SIDE) / n);
    const col = Math.floor((2 * MATRIX_SIDE) / n);
    expect(pooled[row * MATRIX_SIDE + col]).toBe(1); // the link survives the shrinking
    expect(pooled[0]).toBeCloseTo(0.1, 4); // the diagonal too
    expect(pooled[1]).toBe(0);
  });
});

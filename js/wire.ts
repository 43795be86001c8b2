/**
 * Decoding of the attention buffer. Mirrors gemma_widget/wire.py: change both together.
 *
 * The buffer is little-endian uint16 fixed point (weight * 65535), row-major
 * [layers, heads, n, n] for the layers [meta.layers[0], meta.layers[1]).
 */

export const SCALE = 65535;

export interface AttentionMeta {
  layers: [number, number];
  heads: number;
  n: number;
  dtype: "uint16";
  /** The view options the rows were made with (gemma_widget/projection.py). */
  hide_special?: boolean;
  merge_words?: boolean;
}

/** Describes `_token_buffer`: `[2, layers, heads, n]`, the pinned row and column. */
export interface StripMeta {
  index: number;
  layers: number;
  heads: number;
  n: number;
}

/** What the head view draws from: weights of some layers, by token index. */
export interface WeightSource {
  readonly meta: { n: number; heads: number };
  hasLayer(layer: number): boolean;
  weight(layer: number, head: number, i: number, j: number): number;
}

/** Whether `[start, stop)` holds `layer`. */
function holds(layers: [number, number], layer: number): boolean {
  return layer >= layers[0] && layer < layers[1];
}

/** Attention weights of the layers that reached the front end. */
export class AttentionBlock implements WeightSource {
  constructor(
    readonly meta: AttentionMeta,
    private readonly values: Uint16Array,
  ) {}

  hasLayer(layer: number): boolean {
    return holds(this.meta.layers, layer);
  }

  /** True when every one of `numLayers` layers is here (no need to ask the kernel). */
  hasAllLayers(numLayers: number): boolean {
    return this.meta.layers[0] === 0 && this.meta.layers[1] >= numLayers;
  }

  /** Weight with which token `i` attends to token `j`. */
  weight(layer: number, head: number, i: number, j: number): number {
    const { n, heads } = this.meta;
    const offset = (((layer - this.meta.layers[0]) * heads + head) * n + i) * n + j;
    return this.values[offset] / SCALE;
  }
}

/**
 * Describes `_window_buffer`: rows and columns `[start, start + rows)` of every layer, for the
 * head view of a long text (gemma_widget/wire.py `encode_window`).
 */
export interface WindowMeta {
  layers: [number, number];
  heads: number;
  n: number;
  start: number;
  rows: number;
  dtype: "uint16";
  hide_special?: boolean;
  merge_words?: boolean;
}

/** The head view's window of every layer; weights outside the window read as 0. */
export class WindowBlock implements WeightSource {
  constructor(
    readonly meta: WindowMeta,
    private readonly values: Uint16Array,
  ) {}

  hasLayer(layer: number): boolean {
    return holds(this.meta.layers, layer);
  }

  /** True when it holds every row of the window `[start, end)`. */
  covers(start: number, end: number): boolean {
    return start >= this.meta.start && end <= this.meta.start + this.meta.rows;
  }

  weight(layer: number, head: number, i: number, j: number): number {
    const { heads, rows, start } = this.meta;
    const [r, c] = [i - start, j - start];
    if (r < 0 || c < 0 || r >= rows || c >= rows) return 0;
    return this.values[(((layer - this.meta.layers[0]) * heads + head) * rows + r) * rows + c] / SCALE;
  }
}

type Bytes = DataView | ArrayBuffer | ArrayBufferView;

function asUint16(bytes: Bytes): Uint16Array {
  const buffer = bytes instanceof ArrayBuffer ? bytes : bytes.buffer;
  const offset = bytes instanceof ArrayBuffer ? 0 : bytes.byteOffset;
  const length = bytes.byteLength;
  if (length % 2 !== 0) throw new Error(`attention buffer has an odd length (${length} bytes)`);
  if (offset % 2 === 0) return new Uint16Array(buffer as ArrayBuffer, offset, length / 2);
  // A view at an odd offset cannot back a Uint16Array: copy it once.
  return new Uint16Array(new Uint8Array(buffer as ArrayBuffer, offset, length).slice().buffer);
}

/** Decode the synced buffer; null when there is nothing (yet) or it does not match its meta. */
export function decodeAttention(
  bytes: Bytes | null | undefined,
  meta: Partial<AttentionMeta> | null | undefined,
): AttentionBlock | null {
  if (!bytes || !meta || !meta.layers || meta.dtype !== "uint16") return null;
  const values = asUint16(bytes);
  const [start, stop] = meta.layers;
  const expected = (stop - start) * (meta.heads ?? 0) * (meta.n ?? 0) ** 2;
  if (values.length !== expected) {
    throw new Error(`attention buffer holds ${values.length} values, meta says ${expected}`);
  }
  return new AttentionBlock(meta as AttentionMeta, values);
}

/** Decode `_window_buffer`; null when there is none. */
export function decodeWindow(
  bytes: Bytes | null | undefined,
  meta: Partial<WindowMeta> | null | undefined,
): WindowBlock | null {
  if (!bytes || bytes.byteLength === 0 || !meta?.layers || meta.dtype !== "uint16") return null;
  const values = asUint16(bytes);
  const [start, stop] = meta.layers;
  const expected = (stop - start) * (meta.heads ?? 0) * (meta.rows ?? 0) ** 2;
  if (values.length !== expected) {
    throw new Error(`window buffer holds ${values.length} values, meta says ${expected}`);
  }
  return new WindowBlock(meta as WindowMeta, values);
}

/** How the pinned token attends in every layer and head: "out" its row, "in" its column. */
export interface TokenStrips {
  index: number;
  layers: number;
  heads: number;
  n: number;
  weight(direction: "out" | "in", layer: number, head: number, k: number): number;
}

/** The pinned token's strips, from attention that holds every layer. */
export function stripsFromBlock(block: AttentionBlock, index: number, layers: number): TokenStrips {
  const { heads, n } = block.meta;
  return {
    index, layers, heads, n,
    weight: (direction, layer, head, k) =>
      direction === "out" ? block.weight(layer, head, index, k) : block.weight(layer, head, k, index),
  };
}

/** Decode `_token_buffer`; null when there is none. */
export function decodeStrips(
  bytes: Bytes | null | undefined,
  meta: Partial<StripMeta> | null | undefined,
): TokenStrips | null {
  if (!bytes || !meta || meta.index === undefined || bytes.byteLength === 0) return null;
  const values = asUint16(bytes);
  const { index, layers = 0, heads = 0, n = 0 } = meta;
  if (values.length !== 2 * layers * heads * n) {
    throw new Error(`token buffer holds ${values.length} values, meta says ${2 * layers * heads * n}`);
  }
  return {
    index, layers, heads, n,
    weight: (direction, layer, head, k) =>
      values[(((direction === "out" ? 0 : 1) * layers + layer) * heads + head) * n + k] / SCALE,
  };
}

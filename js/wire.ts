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
}

/** Attention weights of the layers that reached the front end. */
export class AttentionBlock {
  constructor(
    readonly meta: AttentionMeta,
    private readonly values: Uint16Array,
  ) {}

  hasLayer(layer: number): boolean {
    return layer >= this.meta.layers[0] && layer < this.meta.layers[1];
  }

  /** Weight with which token `i` attends to token `j`. */
  weight(layer: number, head: number, i: number, j: number): number {
    const { n, heads } = this.meta;
    const offset = (((layer - this.meta.layers[0]) * heads + head) * n + i) * n + j;
    return this.values[offset] / SCALE;
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

/** Helpers that build attention buffers exactly as gemma_widget/wire.py does. */
import { SCALE, type AttentionMeta } from "../../js/wire";

/** Encode weights[layer][head][i][j] (a nested array) for layers [start, start + length). */
export function encode(weights: number[][][][], start = 0): { bytes: DataView; meta: AttentionMeta } {
  const layers = weights.length;
  const heads = weights[0].length;
  const n = weights[0][0].length;
  const values = new Uint16Array(layers * heads * n * n);
  let k = 0;
  for (const layer of weights)
    for (const head of layer)
      for (const row of head) for (const w of row) values[k++] = Math.round(w * SCALE);
  return {
    bytes: new DataView(values.buffer),
    meta: { layers: [start, start + layers], heads, n, dtype: "uint16" },
  };
}

/** A row-stochastic n x n matrix where token i attends to itself with weight `self`. */
export function diagonalHead(n: number, self: number): number[][] {
  return Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => (i === j ? self : (1 - self) / (n - 1))),
  );
}

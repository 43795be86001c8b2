/**
 * Colour scales of the matrix and model views (the `scale` trait) and the heat colour map.
 * Attention sinks (<bos> taking most of every row) wash a linear map out; log and power
 * scales bring the rest back.
 */

export type Scale = "linear" | "log" | "power";

/** The smallest weight the log scale tells apart from zero. */
export const LOG_FLOOR = 1e-4;
/** Exponent of the power scale (a square root: halves the contrast of the strongest cells). */
export const POWER_EXPONENT = 0.5;

/** A weight in [0, 1] mapped to a colour position in [0, 1]. */
export function scaled(weight: number, scale: Scale): number {
  const w = Math.min(Math.max(weight, 0), 1);
  if (scale === "log") {
    if (w <= LOG_FLOOR) return 0;
    return Math.log10(w / LOG_FLOOR) / Math.log10(1 / LOG_FLOOR);
  }
  if (scale === "power") return w ** POWER_EXPONENT;
  return w;
}

/** Sequential blues, light to dark (ColorBrewer "Blues"), as [r, g, b] stops. */
const STOPS: Array<[number, number, number]> = [
  [247, 251, 255], [198, 219, 239], [107, 174, 214], [33, 113, 181], [8, 48, 107],
];

/** The heat colour at position `t` in [0, 1], as [r, g, b]. */
export function heat(t: number): [number, number, number] {
  const x = Math.min(Math.max(t, 0), 1) * (STOPS.length - 1);
  const k = Math.min(Math.floor(x), STOPS.length - 2);
  const f = x - k;
  const [a, b] = [STOPS[k], STOPS[k + 1]];
  return [0, 1, 2].map((c) => Math.round(a[c] + (b[c] - a[c]) * f)) as [number, number, number];
}

/** `heat` at 256 levels, so painting a 2048 x 2048 map allocates nothing per cell. */
const LEVELS = 256;
const TABLE = (() => {
  const table = new Uint8ClampedArray(LEVELS * 3);
  for (let k = 0; k < LEVELS; k++) table.set(heat(k / (LEVELS - 1)), k * 3);
  return table;
})();

/**
 * Paint a `rows` x `cols` grid of cells, one pixel each, into `canvas` (CSS scales it).
 * `weight(i, j)` gives each cell's weight.
 */
export function paintGrid(
  canvas: HTMLCanvasElement,
  rows: number,
  cols: number,
  weight: (i: number, j: number) => number,
  scale: Scale,
): void {
  canvas.width = Math.max(cols, 1);
  canvas.height = Math.max(rows, 1);
  const context = canvas.getContext("2d");
  if (!context || rows === 0 || cols === 0) return;
  const image = context.createImageData(cols, rows);
  const pixels = image.data;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const k = Math.round(scaled(weight(i, j), scale) * (LEVELS - 1)) * 3;
      const p = (i * cols + j) * 4;
      pixels[p] = TABLE[k];
      pixels[p + 1] = TABLE[k + 1];
      pixels[p + 2] = TABLE[k + 2];
      pixels[p + 3] = 255;
    }
  }
  context.putImageData(image, 0, 0);
}

/**
 * Drawing decisions, free of the DOM so vitest can check them: where tokens sit, which lines
 * are drawn, in which colour and how strongly.
 */
import type { WeightSource } from "./wire";

/** Height of one token row in CSS pixels; tokens and line ends share it. */
export const ROW_HEIGHT = 22;
/** Lines below this weight are not drawn: at this opacity they are invisible on their own. */
export const MIN_DRAWN_WEIGHT = 0.01;
/** Opacity is quantised to this many levels so a frame needs few canvas strokes. */
export const OPACITY_LEVELS = 20;
/**
 * Level of detail for long texts (benchmarks/README.md has the measurements): past
 * `WINDOW_FROM` tokens the head view shows a window of `WINDOW_ROWS` tokens that the user moves,
 * and each token keeps only its `MAX_LINES_PER_TOKEN` strongest lines.
 */
export const WINDOW_FROM = 256;
export const WINDOW_ROWS = 128;
export const MAX_LINES_PER_TOKEN = 8;

/** The tokens `[start, end)` the head view shows. */
export interface TokenWindow {
  start: number;
  end: number;
}

/** The window starting near `start` for `n` tokens: everything for short texts. */
export function tokenWindow(n: number, start: number): TokenWindow {
  if (n <= WINDOW_FROM) return { start: 0, end: n };
  const first = Math.min(Math.max(0, Math.round(start)), n - WINDOW_ROWS);
  return { start: first, end: first + WINDOW_ROWS };
}

/** One colour per head (colour-blind-friendly Tableau 10), repeated past ten heads. */
export const HEAD_COLOURS = [
  "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
  "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
];

export function headColour(head: number): string {
  return HEAD_COLOURS[head % HEAD_COLOURS.length];
}

/** Width of an attention line in CSS pixels (bertviz's too). */
export const LINE_WIDTH = 2;

/**
 * How a line of LINE_WIDTH and `opacity` is stroked at a device pixel `ratio`: as parallel
 * strokes one device pixel wide (`width`, CSS px) at `offsets` from the row centre, each with
 * `alpha`. Skia rasterises one-device-pixel strokes as hairlines: a 32-token head drawn with
 * 2-px strokes took headless Chromium 11 ms to rasterise, as hairlines 3-5 ms
 * (benchmarks/README.md). A faint line (most of them) is half as many strands at twice the
 * alpha: the same ink, half the rasterising; lines past half opacity keep every strand, so the
 * strongest stay the darkest.
 */
export function lineStrands(
  ratio: number,
  opacity: number,
): { width: number; alpha: number; offsets: number[] } {
  const full = Math.max(1, Math.round(LINE_WIDTH * ratio));
  const thin = opacity <= 0.5 && full > 1;
  const strands = thin ? Math.round(full / 2) : full;
  const alpha = Math.min(1, (opacity * full) / strands);
  const offsets = range(strands).map((k) => (k - (strands - 1) / 2) / ratio);
  return { width: 1 / ratio, alpha, offsets };
}

/** Vertical centre of token row `index` (counted from the top of the window). */
export function rowCentre(index: number): number {
  return index * ROW_HEIGHT + ROW_HEIGHT / 2;
}

/**
 * Which token the view centres on: lines from a source or into a target (hover), or both
 * (a pinned token: what it attends to and what attends to it).
 */
export type Focus = { side: "source" | "target" | "both"; index: number } | null;

/** Lines of one colour and one opacity level: pairs of [source index, target index]. */
export interface LineGroup {
  head: number;
  opacity: number;
  pairs: Array<[number, number]>;
}

/** Heads drawn: the selected one, or all of them. */
export function headsShown(head: number, allHeads: boolean, numHeads: number): number[] {
  if (allHeads) return Array.from({ length: numHeads }, (_, h) => h);
  return head < numHeads ? [head] : [];
}

/**
 * Group the lines of `layer` by head and opacity level, between tokens of `window`. With a
 * focus, only the lines leaving (source) or entering (target) that token are kept. In a long
 * text (more than WINDOW_FROM tokens) each source keeps its MAX_LINES_PER_TOKEN strongest.
 */
export function groupLines(
  block: WeightSource,
  layer: number,
  heads: number[],
  focus: Focus,
  window: TokenWindow = { start: 0, end: block.meta.n },
): LineGroup[] {
  const n = block.meta.n;
  const inWindow = range(window.end - window.start).map((k) => window.start + k);
  const perSource = n > WINDOW_FROM ? MAX_LINES_PER_TOKEN : Infinity;
  const groups: LineGroup[] = [];
  for (const head of heads) {
    const byLevel = new Map<number, Array<[number, number]>>();
    const sources = focus?.side === "source" ? [focus.index] : inWindow;
    const targets = focus?.side === "target" ? [focus.index] : inWindow;
    for (const i of sources) {
      const kept: Array<[number, number]> = [];
      for (const j of targets) {
        if (focus?.side === "both" && i !== focus.index && j !== focus.index) continue;
        const w = block.weight(layer, head, i, j);
        if (w >= MIN_DRAWN_WEIGHT) kept.push([j, w]);
      }
      if (kept.length > perSource && focus?.side !== "target") {
        kept.sort((a, b) => b[1] - a[1]).length = perSource;
      }
      for (const [j, w] of kept) {
        const level = Math.max(1, Math.round(w * OPACITY_LEVELS));
        let pairs = byLevel.get(level);
        if (!pairs) byLevel.set(level, (pairs = []));
        pairs.push([i, j]);
      }
    }
    for (const [level, pairs] of [...byLevel].sort((a, b) => a[0] - b[0])) {
      groups.push({ head, opacity: level / OPACITY_LEVELS, pairs });
    }
  }
  return groups;
}

/**
 * Weights shown beside the other column while a token is focused (mean over shown heads):
 * for a source, what it attends to; for a target, what attends to it.
 */
export function focusWeights(
  block: WeightSource,
  layer: number,
  heads: number[],
  focus: { side: "source" | "target"; index: number },
): number[] {
  const n = block.meta.n;
  return range(n).map((k) => {
    let sum = 0;
    for (const head of heads) {
      sum += focus.side === "source"
        ? block.weight(layer, head, focus.index, k)
        : block.weight(layer, head, k, focus.index);
    }
    return heads.length ? sum / heads.length : 0;
  });
}

/**
 * How a token is written on screen: whitespace and invisible characters made visible (a
 * zero-width joiner or a bidi override would otherwise show as nothing, or reorder the label),
 * a lone combining mark put on a dotted circle. Always used as text, never as HTML.
 */
export function displayToken(token: string): string {
  if (token === "") return "∅";
  const shown = token
    .replace(/\n/g, "↵")
    .replace(/\t/g, "⇥")
    .replace(/\r/g, "␍")
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (c) => `⟨U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}⟩`)
    .replace(/^\p{M}/u, "◌$&");
  return shown.trim() === "" ? shown.replace(/ /g, "␣") : shown;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, k) => k);
}

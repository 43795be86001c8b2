import { describe, expect, it } from "vitest";
import {
  MIN_DRAWN_WEIGHT,
  OPACITY_LEVELS,
  displayToken,
  focusWeights,
  groupLines,
  headColour,
  headsShown,
  LINE_WIDTH,
  lineStrands,
  rowCentre,
  ROW_HEIGHT,
} from "../../js/layout";
import { decodeAttention } from "../../js/wire";
import { diagonalHead, encode } from "./fixtures";

const encoded = encode([[diagonalHead(4, 0.98), diagonalHead(4, 0.4)]]);
const block = decodeAttention(encoded.bytes, encoded.meta)!;

describe("headsShown", () => {
  it("shows the chosen head, or every head in all-heads mode", () => {
    expect(headsShown(1, false, 3)).toEqual([1]);
    expect(headsShown(1, true, 3)).toEqual([0, 1, 2]);
    expect(headsShown(5, false, 3)).toEqual([]);
  });
});

describe("groupLines", () => {
  it("skips lines under the drawing threshold", () => {
    // head 0: off-diagonal weight 0.01 is drawn only if >= MIN_DRAWN_WEIGHT
    const pairs = groupLines(block, 0, [0], null).flatMap((g) => g.pairs);
    const offDiagonal = (1 - 0.98) / 3;
    expect(offDiagonal < MIN_DRAWN_WEIGHT).toBe(true);
    expect(pairs).toEqual([[0, 0], [1, 1], [2, 2], [3, 3]]);
  });

  it("quantises opacity and keeps one colour group per head", () => {
    const groups = groupLines(block, 0, [0, 1], null);
    expect(new Set(groups.map((g) => g.head))).toEqual(new Set([0, 1]));
    const strong = groups.find((g) => g.head === 1 && g.pairs.some(([i, j]) => i === j))!;
    expect(strong.opacity).toBe(Math.round(0.4 * OPACITY_LEVELS) / OPACITY_LEVELS);
    expect(groups.filter((g) => g.head === 1).flatMap((g) => g.pairs)).toHaveLength(16);
  });

  it("keeps only the focused token's lines", () => {
    const fromSource = groupLines(block, 0, [1], { side: "source", index: 2 });
    expect(fromSource.flatMap((g) => g.pairs).every(([i]) => i === 2)).toBe(true);
    const intoTarget = groupLines(block, 0, [1], { side: "target", index: 3 });
    const pairs = intoTarget.flatMap((g) => g.pairs);
    expect(pairs.every(([, j]) => j === 3)).toBe(true);
    expect(pairs).toHaveLength(4);
  });
});

describe("focusWeights", () => {
  it("averages the shown heads for a row or a column", () => {
    const row = focusWeights(block, 0, [0, 1], { side: "source", index: 0 });
    expect(row[0]).toBeCloseTo((0.98 + 0.4) / 2, 4);
    const column = focusWeights(block, 0, [1], { side: "target", index: 0 });
    expect(column[1]).toBeCloseTo(0.2, 4);
  });
});

describe("geometry and labels", () => {
  it("puts line ends at the middle of token rows", () => {
    expect(rowCentre(0)).toBe(ROW_HEIGHT / 2);
    expect(rowCentre(3) - rowCentre(2)).toBe(ROW_HEIGHT);
  });

  it("strokes a line as one-device-pixel strands with the ink of a LINE_WIDTH line", () => {
    for (const ratio of [1, 1.5, 2, 3]) {
      const full = Math.round(LINE_WIDTH * ratio);
      for (const opacity of [0.05, 0.3, 0.5, 0.55, 0.8, 1]) {
        const { width, alpha, offsets } = lineStrands(ratio, opacity);
        expect(width * ratio).toBe(1); // a hairline in device pixels
        expect(offsets.length * alpha).toBeCloseTo(full * opacity); // the same ink
        expect(alpha).toBeLessThanOrEqual(1);
        const mean = offsets.reduce((a, b) => a + b, 0) / offsets.length;
        expect(mean).toBeCloseTo(0); // centred on the row
        const spread = (offsets.at(-1)! - offsets[0] + width) * ratio;
        expect(spread).toBeCloseTo(offsets.length); // adjacent device pixels, no gaps
      }
      expect(lineStrands(ratio, 0.2).offsets.length).toBe(Math.max(1, Math.round(full / 2)));
      expect(lineStrands(ratio, 0.9).offsets.length).toBe(full); // strong lines stay wide
    }
    expect(lineStrands(0.25, 0.3).offsets).toEqual([0]); // never no line at all
  });

  it("gives heads distinct colours", () => {
    expect(new Set([0, 1, 2].map(headColour)).size).toBe(3);
  });

  it("makes whitespace visible without touching other text", () => {
    expect(displayToken(" cat")).toBe(" cat");
    expect(displayToken("\n")).toBe("↵");
    expect(displayToken("  ")).toBe("␣␣");
    expect(displayToken("<img src=x>")).toBe("<img src=x>");
  });

  it("makes invisible and reordering characters visible", () => {
    expect(displayToken("\u200d")).toBe("⟨U+200D⟩");
    expect(displayToken("a\u202eb")).toBe("a⟨U+202E⟩b");
    expect(displayToken("\u0000")).toBe("⟨U+0000⟩");
    expect(displayToken("\u0301")).toBe("◌\u0301");
    expect(displayToken("日本")).toBe("日本");
  });
});

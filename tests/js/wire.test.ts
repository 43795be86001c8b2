import { describe, expect, it } from "vitest";
import { SCALE, decodeAttention } from "../../js/wire";
import { diagonalHead, encode } from "./fixtures";

describe("decodeAttention", () => {
  it("reads weights back within half a quantisation step", () => {
    const weights = [[diagonalHead(3, 0.7), diagonalHead(3, 0.2)]];
    const { bytes, meta } = encode(weights, 5);
    const block = decodeAttention(bytes, meta)!;
    expect(block.hasLayer(5)).toBe(true);
    expect(block.hasLayer(4)).toBe(false);
    expect(block.hasLayer(6)).toBe(false);
    expect(Math.abs(block.weight(5, 0, 1, 1) - 0.7)).toBeLessThan(0.5 / SCALE);
    expect(Math.abs(block.weight(5, 1, 2, 0) - 0.4)).toBeLessThan(0.5 / SCALE);
  });

  it("honours the byteOffset and byteLength of a view into a larger buffer", () => {
    const { bytes, meta } = encode([[diagonalHead(2, 0.9)]]);
    const padded = new Uint8Array(bytes.byteLength + 6);
    padded.set(new Uint8Array(bytes.buffer), 4);
    const view = new DataView(padded.buffer, 4, bytes.byteLength);
    expect(decodeAttention(view, meta)!.weight(0, 0, 0, 0)).toBeCloseTo(0.9, 4);
  });

  it("copies a view at an odd offset instead of failing", () => {
    const { bytes, meta } = encode([[diagonalHead(2, 0.25)]]);
    const padded = new Uint8Array(bytes.byteLength + 1);
    padded.set(new Uint8Array(bytes.buffer), 1);
    const view = new DataView(padded.buffer, 1, bytes.byteLength);
    expect(decodeAttention(view, meta)!.weight(0, 0, 1, 1)).toBeCloseTo(0.25, 4);
  });

  it("returns null when there is nothing yet and throws on a size mismatch", () => {
    expect(decodeAttention(null, null)).toBeNull();
    const { bytes, meta } = encode([[diagonalHead(3, 0.5)]]);
    expect(decodeAttention(bytes, {})).toBeNull();
    expect(() => decodeAttention(bytes, { ...meta, n: 4 })).toThrow(/meta says/);
  });
});

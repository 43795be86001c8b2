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

  // Views into a larger buffer, as comm messages deliver them: an even offset is used in place,
  // an odd one (no Uint16Array can start there) is copied once.
  it.each([
    { offset: 4, trailing: 2, weight: 0.9, at: 0 },
    { offset: 1, trailing: 0, weight: 0.25, at: 1 },
  ])("honours a view at byteOffset $offset", ({ offset, trailing, weight, at }) => {
    const { bytes, meta } = encode([[diagonalHead(2, weight)]]);
    const padded = new Uint8Array(offset + bytes.byteLength + trailing);
    padded.set(new Uint8Array(bytes.buffer), offset);
    const view = new DataView(padded.buffer, offset, bytes.byteLength);
    expect(decodeAttention(view, meta)!.weight(0, 0, at, at)).toBeCloseTo(weight, 4);
  });

  it("returns null when there is nothing yet and throws on a size mismatch", () => {
    expect(decodeAttention(null, null)).toBeNull();
    const { bytes, meta } = encode([[diagonalHead(3, 0.5)]]);
    expect(decodeAttention(bytes, {})).toBeNull();
    expect(() => decodeAttention(bytes, { ...meta, n: 4 })).toThrow(/meta says/);
  });
});

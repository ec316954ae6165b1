import { describe, expect, it } from "vitest";
import { highlightPieces } from "./highlight";

describe("highlightPieces", () => {
  it("cuts on UTF-8 byte offsets, whatever comes before", () => {
    // "é" and "😀" take 2 and 4 bytes: the match starts at byte 12.
    const text = "café 😀 the budget";
    const start = new TextEncoder().encode("café 😀 the ").length;
    expect(highlightPieces(text, [{ start, end: start + 6 }])).toEqual([
      { text: "café 😀 the ", mark: false },
      { text: "budget", mark: true },
    ]);
  });

  it("ignores ranges out of bounds or overlapping", () => {
    expect(highlightPieces("ab", [{ start: 0, end: 9 }, { start: 1, end: 1 }])).toEqual([{ text: "ab", mark: false }]);
    expect(highlightPieces("abcd", [{ start: 0, end: 2 }, { start: 1, end: 3 }])).toEqual([
      { text: "ab", mark: true },
      { text: "cd", mark: false },
    ]);
  });
});

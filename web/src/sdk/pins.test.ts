import { describe, expect, it } from "vitest";
import { PinBook } from "./pins";

const shown = (b: PinBook) => b.list().map((p) => [p.targetSeq, p.pinnedBy]);

describe("PinBook", () => {
  it("lists pins oldest first, latest event per message winning, in any arrival order", () => {
    const b = new PinBook();
    b.apply(12, 3, "bob", true);
    b.apply(10, 3, "ann", false);
    b.apply(11, 5, "bob", false);
    expect(shown(b)).toEqual([[5, "bob"]]);
    expect(b.isPinned(3)).toBe(false);
    b.apply(13, 3, "cid", false);
    expect(shown(b)).toEqual([
      [5, "bob"],
      [3, "cid"],
    ]);
  });

  it("starts from a reply's pins and applies only later events", () => {
    const b = new PinBook();
    b.apply(4, 1, "ann", false); // already in the snapshot below
    b.apply(9, 2, "bob", false);
    b.setSnapshot(8, [{ targetSeq: "1", pinnedBy: "ann", seq: "4" }, { targetSeq: "7", pinnedBy: "ann", seq: "6" }]);
    b.apply(10, 7, "bob", true);
    expect(shown(b)).toEqual([
      [1, "ann"],
      [2, "bob"],
    ]);
    // An older reply does not replace a newer one.
    b.setSnapshot(5, []);
    expect(shown(b).length).toBe(2);
  });
});

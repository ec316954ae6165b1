import { describe, expect, it } from "vitest";
import { ReactionBook } from "./reactions";

const shown = (b: ReactionBook, t: number, me = "me") => b.of(t, me).map((c) => [c.emoji, c.count, c.userIds.join(","), c.mine]);

describe("ReactionBook", () => {
  it("folds toggles per user, latest event winning, in any arrival order", () => {
    const b = new ReactionBook();
    b.apply(5, 1, "👍", "bob", false);
    b.apply(7, 1, "👍", "bob", true);
    b.apply(6, 1, "❤️", "me", false);
    b.apply(4, 1, "👍", "me", false);
    // Arrived late and twice: changes nothing.
    b.apply(5, 1, "👍", "bob", false);
    expect(shown(b, 1)).toEqual([
      ["👍", 1, "me", true],
      ["❤️", 1, "me", true],
    ]);
    expect(b.mine(1, "👍", "me")).toBe(true);
    expect(b.mine(1, "👍", "bob")).toBe(false);
    expect(shown(b, 2)).toEqual([]);
  });

  it("starts from a history summary and applies only the events above it", () => {
    const b = new ReactionBook();
    // Events already counted by the summary (seq <= 10) are not counted again.
    b.apply(8, 1, "👍", "bob", false);
    b.snapshot(10, [1, 2], [{ targetSeq: "1", emoji: "👍", count: 25, userIds: ["bob", "carol"] }]);
    expect(shown(b, 1)).toEqual([["👍", 25, "bob,carol", false]]);
    b.apply(11, 1, "👍", "me", false);
    b.apply(12, 1, "👍", "carol", true);
    b.apply(13, 1, "👍", "zed", true); // counted by the summary, not named
    expect(shown(b, 1)).toEqual([["👍", 24, "bob,me", true]]);
    // A message of the page without summaries had no reactions.
    b.apply(9, 2, "🎉", "bob", false);
    expect(shown(b, 2)).toEqual([]);
    // An older snapshot does not replace a newer one.
    b.snapshot(5, [1], []);
    expect(shown(b, 1)[0]?.[1]).toBe(24);
  });
});

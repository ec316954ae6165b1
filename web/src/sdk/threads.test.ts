import { describe, expect, it } from "vitest";
import { ThreadBook } from "./threads";

describe("ThreadBook", () => {
  it("adds live replies above the snapshot once, whatever arrives twice", () => {
    const b = new ThreadBook();
    b.snapshot(10, [3, 4], [{ rootSeq: "3", replyCount: 2, lastReplySeq: "9", lastReplyAtMs: "900", participantIds: ["ben"], readSeq: "0", unreadCount: 2 }]);
    expect(b.of(4, "ann")).toBeNull();
    b.apply(9, 3, "ben", 900); // already in the snapshot
    b.apply(12, 3, "cat", 1200);
    b.apply(12, 3, "cat", 1200); // loaded again with the thread
    b.apply(13, 4, "ann", 1300);
    const t = b.of(3, "ann")!;
    expect([t.replyCount, t.lastReplySeq, t.lastReplyAtMs, t.unread]).toEqual([3, 12, 1200, 3]);
    expect(t.participantIds).toEqual(["ben", "cat"]);
    // My own reply starts a thread but is not unread for me.
    expect(b.of(4, "ann")).toMatchObject({ replyCount: 1, unread: 0 });
    // An older snapshot does not replace a newer one.
    b.snapshot(5, [3], []);
    expect(b.of(3, "ann")!.replyCount).toBe(3);
  });

  it("counts unread from my mark once I read the thread", () => {
    const b = new ThreadBook();
    b.snapshot(10, [3], [{ rootSeq: "3", replyCount: 2, lastReplySeq: "9", participantIds: ["ben"], unreadCount: 2 }]);
    b.apply(8, 3, "ben", 800);
    b.apply(9, 3, "ben", 900);
    b.markRead(3, 9);
    expect(b.of(3, "ann")!.unread).toBe(0);
    b.apply(11, 3, "ben", 1100);
    expect(b.of(3, "ann")).toMatchObject({ unread: 1, readSeq: 9, replyCount: 3 });
  });
});

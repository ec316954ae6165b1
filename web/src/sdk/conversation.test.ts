import { describe, expect, it } from "vitest";
import { ConversationModel } from "./conversation";
import type { Event } from "./protocol";

const msg = (seq: number, text: string, sender = "a"): Event => ({
  conversationId: "c",
  seq: String(seq),
  senderId: sender,
  sentAtMs: String(1000 + seq),
  message: { text },
});

describe("ConversationModel", () => {
  it("folds edits and deletes into their targets, in either load order", () => {
    const c = new ConversationModel("c");
    // Newer events load first (the window), older ones when scrolling up.
    c.apply({ conversationId: "c", seq: "5", senderId: "a", edit: { targetSeq: "2", text: "second v2" } });
    c.apply({ conversationId: "c", seq: "6", senderId: "a", edit: { targetSeq: "2", text: "second v3" } });
    c.apply({ conversationId: "c", seq: "7", senderId: "a", delete: { targetSeq: "3" } });
    expect(c.items).toEqual([]);
    c.apply(msg(3, "third"));
    c.apply(msg(2, "second"));
    c.apply(msg(1, "first"));
    expect(c.items.map((i) => [i.seq, i.text, i.edited, i.deleted])).toEqual([
      [1, "first", false, false],
      [2, "second v3", true, false],
      [3, "third", false, true],
    ]);
    // An edit applied to a loaded message; an older edit never wins.
    c.apply({ conversationId: "c", seq: "8", senderId: "a", edit: { targetSeq: "1", text: "first v2" } });
    c.apply({ conversationId: "c", seq: "4", senderId: "a", edit: { targetSeq: "1", text: "stale" } });
    expect(c.item(1)?.text).toBe("first v2");
  });

  it("keeps a deleted message deleted whatever edits follow, in either order", () => {
    for (const order of [["delete", "edit"], ["edit", "delete"]]) {
      const c = new ConversationModel("c");
      c.apply(msg(1, "first"));
      for (const kind of order) {
        if (kind === "delete") c.apply({ conversationId: "c", seq: "2", senderId: "a", delete: { targetSeq: "1" } });
        else c.apply({ conversationId: "c", seq: "3", senderId: "a", edit: { targetSeq: "1", text: "v2" } });
      }
      expect(c.item(1)?.deleted).toBe(true);
    }
  });

  it("counts unread messages from others above the read watermark", () => {
    const c = new ConversationModel("c");
    for (let s = 1; s <= 5; s++) c.apply(msg(s, `m${s}`, s % 2 ? "other" : "me"));
    c.readSeq = 2;
    expect(c.unread("me").count).toBe(2);
    c.apply({ conversationId: "c", seq: "6", senderId: "other", delete: { targetSeq: "5" } });
    expect(c.unread("me").count).toBe(1);
  });

  it("reports membership events so members can be refreshed", () => {
    const c = new ConversationModel("c");
    expect(c.apply({ conversationId: "c", seq: "3", membersAdded: { userIds: ["x"] } })).toBe(true);
    expect(c.apply(msg(4, "hi"))).toBe(false);
    expect(c.headSeq).toBe(4);
  });

  it("counts unread mentions of me, by name or @all, with edits replacing mentions", () => {
    const c = new ConversationModel("c");
    c.apply({ conversationId: "c", seq: "1", senderId: "a", message: { text: "@me hi", mentionIds: ["me"] } });
    c.apply({ conversationId: "c", seq: "2", senderId: "a", message: { text: "@all standup", mentionAll: true } });
    c.apply({ conversationId: "c", seq: "3", senderId: "a", message: { text: "@bob only", mentionIds: ["bob"] } });
    c.apply({ conversationId: "c", seq: "4", senderId: "me", message: { text: "@all mine", mentionAll: true } });
    expect(c.mentionsOfMe("me")).toBe(2);
    // An edit that drops the mention; one that adds it (edits arrive before their target too).
    c.apply({ conversationId: "c", seq: "5", senderId: "a", edit: { targetSeq: "1", text: "hi" } });
    c.apply({ conversationId: "c", seq: "7", senderId: "a", edit: { targetSeq: "6", text: "@me late", mentionIds: ["me"] } });
    c.apply({ conversationId: "c", seq: "6", senderId: "a", message: { text: "late" } });
    expect(c.item(1)?.mentionIds).toEqual([]);
    expect(c.item(6)?.mentionIds).toEqual(["me"]);
    expect(c.mentionsOfMe("me")).toBe(2);
    c.readSeq = 6;
    expect(c.mentionsOfMe("me")).toBe(0);
  });

  it("folds reaction events and history summaries into the message's reactions", () => {
    const c = new ConversationModel("c");
    c.apply({ conversationId: "c", seq: "9", senderId: "b", reaction: { targetSeq: "1", emoji: "👍" } });
    c.applyHistoryReactions({
      conversationId: "c",
      headSeq: "8",
      events: [msg(1, "old")],
      reactions: [{ targetSeq: "1", emoji: "👍", count: 3, userIds: ["x", "y", "z"] }],
    });
    expect(c.reactions.of(1, "me").map((r) => [r.emoji, r.count])).toEqual([["👍", 4]]);
  });

  it("applies renames and role changes newer than the metadata it has, not older ones", () => {
    const c = new ConversationModel("c");
    c.applyMeta({ id: "c", kind: "CONVERSATION_KIND_GROUP", title: "new", description: "d2", pinsSeq: "10", members: [{ userId: "a", role: "ROLE_MEMBER" }] }, true);
    // An older rename loaded from history does not undo the newer title.
    c.apply({ conversationId: "c", seq: "5", senderId: "o", updated: { title: "old" } });
    expect(c.title).toBe("new");
    c.apply({ conversationId: "c", seq: "11", senderId: "o", updated: { description: "d3" } });
    expect([c.title, c.description]).toEqual(["new", "d3"]);
    expect(c.apply({ conversationId: "c", seq: "12", senderId: "o", rolesChanged: { changes: [{ userId: "a", role: "ROLE_ADMIN" }] } })).toBe(true);
    expect(c.members.get("a")?.role).toBe("ROLE_ADMIN");
    expect(c.items.map((i) => i.kind)).toEqual(["updated", "updated", "roles_changed"]);
  });

  it("uses the server's unread count until the loaded messages reach my watermark", () => {
    const c = new ConversationModel("c");
    c.readSeq = 3;
    c.applyState({ conversation: { id: "c" }, readSeq: "3", unreadCount: 42, mentionCount: 2, unreadCapped: false, settings: { mutedUntilMs: "-1", archived: true } });
    expect(c.unread("me")).toEqual({ count: 42, more: false });
    expect(c.muted()).toBe(true);
    expect(c.settings.archived).toBe(true);
    c.applySettings({ mutedUntilMs: String(Date.now() - 1) });
    expect(c.muted()).toBe(false);
  });

  it("tracks invitations and a message request from the events", () => {
    const g = new ConversationModel("g");
    g.applyMeta({ id: "g", kind: "CONVERSATION_KIND_GROUP", invitedIds: ["dee"] }, false);
    g.apply({ conversationId: "g", seq: "3", senderId: "ann", membersInvited: { userIds: ["eve", "fay"] } });
    expect([...g.invitedIds].sort()).toEqual(["dee", "eve", "fay"]);
    g.apply({ conversationId: "g", seq: "4", senderId: "eve", membersAdded: { userIds: ["eve"] } });
    g.apply({ conversationId: "g", seq: "5", senderId: "fay", invitationClosed: { userId: "fay", declined: true } });
    g.apply({ conversationId: "g", seq: "6", senderId: "ann", invitationClosed: { userId: "dee" } });
    expect([...g.invitedIds]).toEqual([]);
    expect(g.items.map((i) => [i.kind, i.declined ?? null])).toEqual([
      ["members_invited", null],
      ["members_added", null],
      ["invitation_closed", true],
      ["invitation_closed", false],
    ]);
    // A request stays while only its sender writes; a reply accepts it.
    const d = new ConversationModel("d");
    d.applyMeta({ id: "d", kind: "CONVERSATION_KIND_DIRECT", request: { fromUserId: "max", atMs: "1" } }, true);
    d.apply(msg(2, "hi", "max"));
    expect(d.request?.fromUserId).toBe("max");
    d.apply(msg(3, "hello", "ann"));
    expect(d.request).toBeNull();
    // So does an explicit answer, shown as a notice.
    const e = new ConversationModel("e");
    e.applyMeta({ id: "e", kind: "CONVERSATION_KIND_DIRECT", request: { fromUserId: "max", atMs: "1" } }, true);
    e.apply({ conversationId: "e", seq: "2", senderId: "ann", requestAccepted: { fromUserId: "max" } });
    expect(e.request).toBeNull();
    expect(e.items.map((i) => [i.kind, i.userIds])).toEqual([["request_accepted", ["max"]]]);
  });

  it("shows a redacted message as deleted and its redacted edits as nothing", () => {
    const c = new ConversationModel("c");
    c.apply({ conversationId: "c", seq: "1", senderId: "max", redacted: { deleteSeq: "3" } });
    c.apply({ conversationId: "c", seq: "2", senderId: "max", redacted: { deleteSeq: "3", edit: true } });
    c.apply({ conversationId: "c", seq: "3", senderId: "max", delete: { targetSeq: "1" } });
    expect(c.items.map((i) => [i.seq, i.kind, i.deleted, i.text])).toEqual([[1, "message", true, ""]]);
  });

  it("forgets a cleared history and hides the conversation until a new message", () => {
    const c = new ConversationModel("c");
    c.apply(msg(1, "one", "max"));
    c.apply(msg(2, "two", "max"));
    expect(c.hidden()).toBe(false);
    c.applySettings({ clearedSeq: "2" });
    expect(c.items).toEqual([]);
    expect(c.hidden()).toBe(true);
    expect(c.unread("ann").count).toBe(0);
    // Settings without it (an older device) never bring it back here either.
    c.applySettings({ clearedSeq: "2", archived: true });
    expect(c.hidden()).toBe(true);
    c.apply(msg(3, "three", "max"));
    expect(c.hidden()).toBe(false);
    expect(c.items.map((i) => i.text)).toEqual(["three"]);
  });
});

// What a conversation looks like to a user: its members and the visible items
// of its timeline, with edits and deletes folded into the messages they
// target. Events come in two ways: forward (in seq order, from the Timeline)
// and older pages loaded when the user scrolls up.

import { Timeline } from "./timeline";
import { PinBook } from "./pins";
import { ThreadBook } from "./threads";
import { ReactionBook } from "./reactions";
import {
  int,
  type Conversation,
  type ConversationSettings,
  type ConversationState,
  type Event,
  type HistoryReply,
  type HistoryVisibility,
  type Role,
} from "./protocol";

export type ConversationKind = "direct" | "group";

export interface MemberState {
  role: Role;
  readSeq: number;
}

/** One row of the message list: a message, or a membership notice. */
export interface Item {
  seq: number;
  senderId: string;
  clientMsgId: string;
  sentAtMs: number;
  kind:
    | "message"
    | "created"
    | "members_added"
    | "member_removed"
    | "updated"
    | "roles_changed"
    | "members_invited"
    | "invitation_closed"
    | "request_accepted";
  text: string;
  replyToSeq: number;
  /** The root of the thread this message is a reply in (0: none). */
  threadRootSeq: number;
  /** For a forwarded message: who wrote the original, and when. */
  forwarded?: { senderId: string; sentAtMs: number };
  /** Members the message mentions, and whether it mentions everyone. */
  mentionIds: string[];
  mentionAll: boolean;
  edited: boolean;
  deleted: boolean;
  /** For membership notices: who joined or left (or whose role changed). */
  userIds: string[];
  /** For role changes: the new role of each of `userIds`. */
  roles: Role[];
  /** For a closed invitation: declined by the invitee (else withdrawn). */
  declined?: boolean;
  /** For a group update: the new description, if it changed. */
  description?: string;
  /** For a group update: the new history visibility, if it changed. */
  historyVisibility?: HistoryVisibility;
  /** Seq of the edit whose text is shown (0: the original). */
  editSeq: number;
}

interface Patch {
  editSeq: number;
  text?: string;
  mentionIds?: string[];
  mentionAll?: boolean;
  deleted: boolean;
}

export class ConversationModel {
  kind: ConversationKind = "group";
  title = "";
  description = "";
  historyVisibility: HistoryVisibility = "HISTORY_VISIBILITY_ALL";
  /** The first seq I may read (history replies say; 1 unless the group hides older history from new members). */
  visibleFrom = 1;
  /** The seq the metadata (title, description, roles) is known as of. */
  private metaSeq = 0;
  members = new Map<string, MemberState>();
  membersLoaded = false;
  /** The head seq as last heard from the server or seen in an event. */
  headSeq = 0;
  /** My read watermark. */
  readSeq = 0;
  /** Ordering of forward events; null until the first page is loaded. */
  timeline: Timeline | null = null;
  /** The lowest seq loaded: every seq from here to `timeline.delivered` is in `items` (or invisible). */
  oldestLoaded = 0;
  loadingOlder = false;
  /** Whether a forward history pull is running. */
  fetching = false;
  /** A gap seen in live pushes, pulled if still open when this fires. */
  gapTimer: ReturnType<typeof setTimeout> | null = null;
  /** Pushes that arrived before the first page. */
  early: Event[] = [];
  /** I am no longer a member (or, for a direct conversation, I blocked the other). */
  left = false;
  /** Set while a direct conversation is a message request (who sent it). */
  request: { fromUserId: string; atMs: number } | null = null;
  /** People invited to the group who have not answered. */
  invitedIds = new Set<string>();
  /** Grows with every change of reactions (for views that memoize). */
  version = 0;
  /** My private settings (mute, archive, pin to the top, marked unread). */
  settings: Required<{ [K in keyof ConversationSettings]: NonNullable<ConversationSettings[K]> }> & {
    mutedUntilMs: number;
    pinnedAtMs: number;
    clearedSeq: number;
  } = {
    mutedUntilMs: 0,
    archived: false,
    pinnedAtMs: 0,
    markedUnread: false,
    clearedSeq: 0,
  };
  /** The server's unread and mention counts as of the last sync, and its last message. */
  synced: { readSeq: number; unread: number; mentions: number; capped: boolean; lastMessage?: Event } | null = null;
  lastActivityMs = 0;
  /** Reactions of the messages (see reactions.ts). */
  readonly reactions = new ReactionBook();
  /** Pinned messages (see pins.ts). */
  readonly pins = new PinBook();
  /** Threads under messages (see threads.ts). */
  readonly threads = new ThreadBook();

  private readonly bySeq = new Map<number, Item>();
  private sorted: Item[] = [];
  private dirty = false;
  private readonly patches = new Map<number, Patch>();

  constructor(readonly id: string) {}

  /** Applies conversation metadata (from sync, create or getConversation). */
  applyMeta(c: Conversation, withMembers: boolean): void {
    this.kind = c.kind === "CONVERSATION_KIND_DIRECT" ? "direct" : "group";
    // A reply older than an update already applied does not undo it.
    const asOf = int(c.pinsSeq);
    if (asOf >= this.metaSeq || asOf === 0) {
      this.title = c.title ?? "";
      this.description = c.description ?? "";
      this.historyVisibility = c.historyVisibility ?? "HISTORY_VISIBILITY_ALL";
      this.metaSeq = Math.max(this.metaSeq, asOf);
    }
    this.lastActivityMs = Math.max(this.lastActivityMs, int(c.createdAtMs));
    this.request = c.request ? { fromUserId: c.request.fromUserId, atMs: int(c.request.atMs) } : null;
    if (this.kind === "group") this.invitedIds = new Set(c.invitedIds ?? []);
    this.pins.setSnapshot(int(c.pinsSeq), c.pins ?? []);
    if (withMembers && c.members) {
      const next = new Map<string, MemberState>();
      for (const m of c.members) {
        const old = this.members.get(m.userId);
        next.set(m.userId, {
          role: m.role ?? "ROLE_MEMBER",
          readSeq: Math.max(old?.readSeq ?? 0, int(m.readSeq)),
        });
      }
      this.members = next;
      this.membersLoaded = this.membersLoaded || this.kind === "group";
    }
  }

  get items(): Item[] {
    if (this.dirty) {
      this.sorted = [...this.bySeq.values()].sort((a, b) => a.seq - b.seq);
      this.dirty = false;
    }
    return this.sorted;
  }

  item(seq: number): Item | undefined {
    return this.bySeq.get(seq);
  }

  get delivered(): number {
    return this.timeline?.delivered ?? 0;
  }

  /** The main list: everything but replies in threads. */
  get mainItems(): Item[] {
    return this.items.filter((i) => !i.threadRootSeq);
  }

  /** The replies in the thread under `root` that are loaded, oldest first. */
  threadItems(root: number): Item[] {
    return this.items.filter((i) => i.threadRootSeq === root);
  }

  get hasOlder(): boolean {
    return this.timeline !== null && this.oldestLoaded > Math.max(1, this.visibleFrom);
  }

  /** Messages from others above my read watermark; `more` when some are not loaded. */
  unread(me: string): { count: number; more: boolean } {
    // Before the messages are loaded, or when they do not reach back to my
    // watermark, the server's count (as of sync) is the better answer.
    const gap = this.timeline === null || this.readSeq + 1 < this.oldestLoaded;
    if (gap && this.synced && this.synced.readSeq === this.readSeq) {
      return { count: this.synced.unread, more: this.synced.capped };
    }
    let count = 0;
    for (const it of this.items) {
      if (it.seq > this.readSeq && it.kind === "message" && !it.deleted && it.senderId !== me) count++;
    }
    return { count, more: this.timeline !== null && this.readSeq + 1 < this.oldestLoaded };
  }

  /** Members other than me whose read watermark covers `seq`. */
  readBy(seq: number, me: string): string[] {
    const out: string[] = [];
    for (const [id, m] of this.members) if (id !== me && m.readSeq >= seq) out.push(id);
    return out;
  }

  /**
   * Folds an event into the items. Returns true when it changes membership
   * (the caller refreshes the member list).
   */
  apply(e: Event): boolean {
    const seq = int(e.seq);
    this.headSeq = Math.max(this.headSeq, seq);
    const sentAtMs = int(e.sentAtMs);
    this.lastActivityMs = Math.max(this.lastActivityMs, sentAtMs);
    const base = {
      seq,
      senderId: e.senderId ?? "",
      clientMsgId: e.clientMsgId ?? "",
      sentAtMs,
      text: "",
      replyToSeq: 0,
      threadRootSeq: 0,
      mentionIds: [] as string[],
      mentionAll: false,
      edited: false,
      deleted: false,
      userIds: [] as string[],
      roles: [] as Role[],
      editSeq: 0,
    };
    if (e.message) {
      // A reply from the one asked accepts a message request.
      if (this.request && e.senderId !== this.request.fromUserId) this.request = null;
      const root = int(e.message.threadRootSeq);
      if (root) {
        this.threads.apply(seq, root, e.senderId ?? "", int(e.sentAtMs));
        this.version++;
      }
      this.put({
        ...base,
        kind: "message",
        text: e.message.text ?? "",
        replyToSeq: int(e.message.replyToSeq),
        threadRootSeq: root,
        forwarded: e.message.forwarded ? { senderId: e.message.forwarded.senderId, sentAtMs: int(e.message.forwarded.sentAtMs) } : undefined,
        mentionIds: e.message.mentionIds ?? [],
        mentionAll: e.message.mentionAll ?? false,
      });
    } else if (e.updated) {
      const u = e.updated;
      if (seq > this.metaSeq) {
        if (u.title !== undefined) this.title = u.title;
        if (u.description !== undefined) this.description = u.description;
        if (u.historyVisibility !== undefined) this.historyVisibility = u.historyVisibility;
        this.metaSeq = seq;
      }
      this.put({ ...base, kind: "updated", text: u.title ?? "", description: u.description, historyVisibility: u.historyVisibility });
    } else if (e.rolesChanged) {
      const changes = e.rolesChanged.changes ?? [];
      for (const ch of changes) {
        const m = this.members.get(ch.userId);
        if (m && seq > this.metaSeq) m.role = ch.role;
      }
      this.put({ ...base, kind: "roles_changed", userIds: changes.map((c) => c.userId), roles: changes.map((c) => c.role) });
      return true;
    } else if (e.pin) {
      this.pins.apply(seq, int(e.pin.targetSeq), e.senderId ?? "", e.pin.unpin ?? false);
      this.version++;
    } else if (e.reaction) {
      const r = e.reaction;
      this.reactions.apply(seq, int(r.targetSeq), r.emoji, e.senderId ?? "", r.remove ?? false);
      this.version++;
    } else if (e.edit) {
      // A delete is final: an edit never brings a deleted message back.
      this.patch(int(e.edit.targetSeq), {
        editSeq: seq,
        text: e.edit.text ?? "",
        mentionIds: e.edit.mentionIds ?? [],
        mentionAll: e.edit.mentionAll ?? false,
        deleted: false,
      });
    } else if (e.delete) {
      this.patch(int(e.delete.targetSeq), { editSeq: 0, deleted: true });
    } else if (e.created) {
      this.put({ ...base, kind: "created", text: e.created.title ?? "", userIds: e.created.memberIds ?? [] });
    } else if (e.membersAdded) {
      for (const u of e.membersAdded.userIds ?? []) this.invitedIds.delete(u);
      this.put({ ...base, kind: "members_added", userIds: e.membersAdded.userIds ?? [] });
      return true;
    } else if (e.membersInvited) {
      for (const u of e.membersInvited.userIds ?? []) this.invitedIds.add(u);
      this.put({ ...base, kind: "members_invited", userIds: e.membersInvited.userIds ?? [] });
    } else if (e.invitationClosed) {
      const who = e.invitationClosed.userId ?? "";
      this.invitedIds.delete(who);
      this.put({ ...base, kind: "invitation_closed", userIds: [who], declined: e.invitationClosed.declined ?? false });
    } else if (e.redacted) {
      // A deleted message as history serves it: shown as deleted, in its
      // thread if it was a reply; a deleted message's edits show nothing.
      if (!e.redacted.edit) {
        const root = int(e.redacted.threadRootSeq);
        this.put({ ...base, kind: "message", threadRootSeq: root, deleted: true });
      }
    } else if (e.requestAccepted) {
      this.request = null;
      this.put({ ...base, kind: "request_accepted", userIds: [e.requestAccepted.fromUserId ?? ""] });
    } else if (e.memberRemoved) {
      this.put({ ...base, kind: "member_removed", userIds: e.memberRemoved.userId ? [e.memberRemoved.userId] : [] });
      return true;
    }
    return false;
  }

  /** Takes a sync entry's per-member view: my settings, the counts, the last message. */
  applyState(st: ConversationState): void {
    if (st.settings) this.applySettings(st.settings);
    this.synced = {
      readSeq: int(st.readSeq),
      unread: st.unreadCount ?? 0,
      mentions: st.mentionCount ?? 0,
      capped: st.unreadCapped ?? false,
      lastMessage: st.lastMessage,
    };
    const active = st.lastActivityMs ? int(st.lastActivityMs) : st.lastMessage ? int(st.lastMessage.sentAtMs) : 0;
    this.lastActivityMs = Math.max(this.lastActivityMs, active);
  }

  applySettings(s: ConversationSettings): void {
    this.settings = {
      mutedUntilMs: int(s.mutedUntilMs),
      archived: s.archived ?? false,
      pinnedAtMs: int(s.pinnedAtMs),
      markedUnread: s.markedUnread ?? false,
      clearedSeq: int(s.clearedSeq),
    };
    this.forget(this.settings.clearedSeq);
  }

  /** Drops what I cleared (every seq up to `seq`) from what is shown and counted. */
  private forget(seq: number): void {
    if (seq < this.visibleFrom) return;
    this.visibleFrom = seq + 1;
    for (const k of [...this.bySeq.keys()]) if (k <= seq) this.bySeq.delete(k);
    if (this.synced && int(this.synced.lastMessage?.seq) <= seq) {
      this.synced = { ...this.synced, unread: 0, mentions: 0, capped: false, lastMessage: undefined };
    }
    this.dirty = true;
  }

  /** Cleared by me with no message since: out of the list until one comes. */
  hidden(): boolean {
    const cleared = this.settings.clearedSeq;
    if (!cleared) return false;
    let newest = int(this.synced?.lastMessage?.seq);
    for (const it of this.bySeq.values()) if (it.kind === "message" && it.seq > newest) newest = it.seq;
    return newest <= cleared;
  }

  /** Whether notifications are muted at `now`. */
  muted(now = Date.now()): boolean {
    const until = this.settings.mutedUntilMs;
    return until === -1 || until > now;
  }

  /** Takes the reaction summaries of a history reply (before or after its events). */
  applyHistoryReactions(h: HistoryReply): void {
    if (h.visibleFrom !== undefined) this.visibleFrom = Math.max(1, int(h.visibleFrom));
    const targets = (h.events ?? []).filter((e) => e.message).map((e) => int(e.seq));
    if (!targets.length) return;
    // Roots among them: every message outside a thread (a thread's own page has none).
    const roots = (h.events ?? []).filter((e) => e.message && !int(e.message.threadRootSeq)).map((e) => int(e.seq));
    this.threads.snapshot(int(h.headSeq), roots, h.threads ?? []);
    this.reactions.snapshot(int(h.headSeq), targets, h.reactions ?? []);
    this.version++;
  }

  /** Messages that mention me (by name or @all) above my read watermark. */
  mentionsOfMe(me: string): number {
    let n = 0;
    for (const it of this.items) {
      if (it.seq > this.readSeq && it.kind === "message" && !it.deleted && it.senderId !== me) {
        if (it.mentionAll || it.mentionIds.includes(me)) n++;
      }
    }
    return n;
  }

  private put(item: Item): void {
    if (this.bySeq.has(item.seq)) return;
    const p = this.patches.get(item.seq);
    if (p) {
      this.patches.delete(item.seq);
      if (p.text !== undefined && p.editSeq > item.editSeq) {
        item.text = p.text;
        item.mentionIds = p.mentionIds ?? [];
        item.mentionAll = p.mentionAll ?? false;
        item.edited = true;
        item.editSeq = p.editSeq;
      }
      item.deleted = p.deleted;
    }
    this.bySeq.set(item.seq, item);
    this.dirty = true;
  }

  private patch(target: number, p: Patch): void {
    const item = this.bySeq.get(target);
    if (!item) {
      // The target is older than what is loaded: keep the latest change for it.
      const old = this.patches.get(target);
      const newer = p.editSeq >= (old?.editSeq ?? 0) && p.text !== undefined;
      const merged: Patch = {
        editSeq: Math.max(old?.editSeq ?? 0, p.editSeq),
        text: newer ? p.text : old?.text,
        mentionIds: newer ? p.mentionIds : old?.mentionIds,
        mentionAll: newer ? p.mentionAll : old?.mentionAll,
        deleted: (old?.deleted ?? false) || p.deleted,
      };
      this.patches.set(target, merged);
      return;
    }
    if (p.deleted) item.deleted = true;
    if (p.text !== undefined && p.editSeq > item.editSeq) {
      item.text = p.text;
      item.mentionIds = p.mentionIds ?? [];
      item.mentionAll = p.mentionAll ?? false;
      item.edited = true;
      item.editSeq = p.editSeq;
    }
    this.bySeq.set(target, { ...item });
    this.dirty = true;
  }
}

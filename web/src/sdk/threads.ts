// Threads under root messages: what a root shows ("3 replies, last at
// 5:02, 1 unread") from the summaries of history replies (as of their
// head seq) plus the replies delivered live after that, each counted once
// (the same snapshot-plus-events scheme as reactions.ts).

import { int, type ThreadSummary } from "./protocol";

export interface ThreadView {
  rootSeq: number;
  replyCount: number;
  lastReplySeq: number;
  lastReplyAtMs: number;
  /** Who replied, in the order of their first reply. */
  participantIds: string[];
  /** My read mark in the thread, and the replies from others above it. */
  readSeq: number;
  unread: number;
}

interface Reply {
  senderId: string;
  sentAtMs: number;
}

interface Entry {
  snapshot: { seq: number; summary: ThreadView } | null;
  /** Replies delivered live, by seq (those at or below the snapshot are in it). */
  replies: Map<number, Reply>;
  /** My read mark as I moved it here (the server's may be older in the snapshot). */
  readSeq: number;
}

export class ThreadBook {
  private readonly byRoot = new Map<number, Entry>();

  private entry(root: number): Entry {
    let e = this.byRoot.get(root);
    if (!e) {
      e = { snapshot: null, replies: new Map(), readSeq: 0 };
      this.byRoot.set(root, e);
    }
    return e;
  }

  /** A reply event (delivered by the timeline, or loaded with its thread: kept by seq, so once). */
  apply(seq: number, root: number, senderId: string, sentAtMs: number): void {
    this.entry(root).replies.set(seq, { senderId, sentAtMs });
  }

  /**
   * The threads of the messages `roots` as of `headSeq` (a history reply:
   * each message it returned, with the summaries of those that have
   * replies). An older snapshot never replaces a newer one.
   */
  snapshot(headSeq: number, roots: number[], summaries: ThreadSummary[]): void {
    const byRoot = new Map(summaries.map((s) => [int(s.rootSeq), s]));
    for (const root of roots) {
      const e = this.entry(root);
      if (e.snapshot && e.snapshot.seq >= headSeq) continue;
      const s = byRoot.get(root);
      e.snapshot = {
        seq: headSeq,
        summary: {
          rootSeq: root,
          replyCount: s?.replyCount ?? 0,
          lastReplySeq: int(s?.lastReplySeq),
          lastReplyAtMs: int(s?.lastReplyAtMs),
          participantIds: [...(s?.participantIds ?? [])],
          readSeq: int(s?.readSeq),
          unread: s?.unreadCount ?? 0,
        },
      };
    }
  }

  /** I read the thread up to `seq`. */
  markRead(root: number, seq: number): void {
    const e = this.entry(root);
    e.readSeq = Math.max(e.readSeq, seq);
  }

  /** What the root at `root` shows; null when it has no replies. */
  of(root: number, me: string): ThreadView | null {
    const e = this.byRoot.get(root);
    if (!e) return null;
    const snap = e.snapshot;
    const base = snap?.seq ?? 0;
    const view: ThreadView = snap
      ? { ...snap.summary, participantIds: [...snap.summary.participantIds] }
      : { rootSeq: root, replyCount: 0, lastReplySeq: 0, lastReplyAtMs: 0, participantIds: [], readSeq: 0, unread: 0 };
    const readSeq = Math.max(view.readSeq, e.readSeq);
    const live = [...e.replies].filter(([seq]) => seq > base).sort(([a], [b]) => a - b);
    for (const [seq, r] of live) {
      view.replyCount++;
      if (seq > view.lastReplySeq) {
        view.lastReplySeq = seq;
        view.lastReplyAtMs = r.sentAtMs;
      }
      if (!view.participantIds.includes(r.senderId)) view.participantIds.push(r.senderId);
    }
    let unread: number;
    if (readSeq > view.readSeq) {
      // My mark moved here (after loading the thread): count what is
      // known one by one above it.
      unread = [...e.replies].filter(([seq, r]) => seq > readSeq && r.senderId !== me).length;
    } else {
      unread = view.unread + live.filter(([, r]) => r.senderId !== me).length;
    }
    view.readSeq = readSeq;
    view.unread = unread;
    return view.replyCount > 0 ? view : null;
  }
}

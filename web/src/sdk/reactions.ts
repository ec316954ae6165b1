// The reactions of a conversation's messages, as a client shows them. Two
// sources meet here: reaction events (live pushes and history pages, in any
// order, possibly twice) and the summaries a history reply carries for its
// messages, which are the state as of the reply's head seq. A message's
// state is its latest summary plus the reaction events above that summary's
// seq, the latest event per (emoji, user) winning.

import type { ReactionSummary } from "./protocol";
import { int } from "./protocol";

/** One emoji under a message: how many reacted, who (in order), and whether I did. */
export interface ReactionCount {
  emoji: string;
  count: number;
  /** The first reactors, in the order they reacted (a summary names up to 20). */
  userIds: string[];
  mine: boolean;
}

interface Logged {
  seq: number;
  emoji: string;
  userId: string;
  remove: boolean;
}

interface Snapshot {
  seq: number;
  counts: { emoji: string; count: number; userIds: string[] }[];
}

interface MessageReactions {
  snapshot: Snapshot | null;
  /** Reaction events, by seq. */
  events: Map<number, Logged>;
}

export class ReactionBook {
  private readonly byTarget = new Map<number, MessageReactions>();

  private entry(target: number): MessageReactions {
    let m = this.byTarget.get(target);
    if (!m) {
      m = { snapshot: null, events: new Map() };
      this.byTarget.set(target, m);
    }
    return m;
  }

  /** A reaction event (seq is the event's, target the message's). */
  apply(seq: number, target: number, emoji: string, userId: string, remove: boolean): void {
    this.entry(target).events.set(seq, { seq, emoji, userId, remove });
  }

  /**
   * The reactions of the messages `targets` as of `headSeq` (a history
   * reply: every message it returned, with its summaries; a message without
   * summaries had none). An older snapshot never replaces a newer one.
   */
  snapshot(headSeq: number, targets: number[], summaries: ReactionSummary[]): void {
    const counts = new Map<number, Snapshot["counts"]>();
    for (const s of summaries) {
      const t = int(s.targetSeq);
      if (!counts.has(t)) counts.set(t, []);
      counts.get(t)!.push({ emoji: s.emoji, count: s.count ?? 0, userIds: [...(s.userIds ?? [])] });
    }
    for (const t of targets) {
      const m = this.entry(t);
      if (m.snapshot && m.snapshot.seq >= headSeq) continue;
      m.snapshot = { seq: headSeq, counts: counts.get(t) ?? [] };
    }
  }

  /** What to show under the message at `target`, emoji in the order first used. */
  of(target: number, me: string): ReactionCount[] {
    const m = this.byTarget.get(target);
    if (!m) return [];
    const base = m.snapshot?.seq ?? 0;
    const out: ReactionCount[] = (m.snapshot?.counts ?? []).map((c) => ({
      emoji: c.emoji,
      count: c.count,
      userIds: [...c.userIds],
      mine: c.userIds.includes(me),
    }));
    // The latest event per (emoji, user) above the snapshot wins.
    const latest = new Map<string, Logged>();
    for (const e of [...m.events.values()].sort((a, b) => a.seq - b.seq)) {
      if (e.seq > base) latest.set(`${e.emoji}\u0000${e.userId}`, e);
    }
    for (const e of latest.values()) {
      let c = out.find((x) => x.emoji === e.emoji);
      if (!c) {
        if (e.remove) continue;
        c = { emoji: e.emoji, count: 0, userIds: [], mine: false };
        out.push(c);
      }
      const listed = c.userIds.indexOf(e.userId);
      if (!e.remove && listed < 0) {
        c.userIds.push(e.userId);
        c.count += 1;
      } else if (e.remove && listed >= 0) {
        c.userIds.splice(listed, 1);
        c.count -= 1;
      } else if (e.remove && c.count > c.userIds.length) {
        // A reactor the summary counted but did not name.
        c.count -= 1;
      }
      if (e.userId === me) c.mine = !e.remove;
    }
    return out.filter((c) => c.count > 0);
  }

  /** Whether I have reacted to `target` with `emoji` (what a toggle does next). */
  mine(target: number, emoji: string, me: string): boolean {
    return this.of(target, me).some((c) => c.emoji === emoji && c.mine);
  }
}

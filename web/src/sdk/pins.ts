// A conversation's pinned messages, from two sources that may arrive in any
// order: the pins a conversation reply carries (the state as of its
// `pinsSeq`) and pin events (live or from history). The state is the
// latest snapshot plus the pin events above its seq, the latest event per
// message winning.

import { int, type Pin } from "./protocol";

export interface Pinned {
  targetSeq: number;
  pinnedBy: string;
  /** The seq of the pin event (pins are listed oldest first). */
  seq: number;
}

interface PinEvent {
  seq: number;
  targetSeq: number;
  userId: string;
  unpin: boolean;
}

export class PinBook {
  private snapshotSeq = 0;
  private snapshot: Pinned[] = [];
  private readonly events = new Map<number, PinEvent>();

  /** A pin event. */
  apply(seq: number, targetSeq: number, userId: string, unpin: boolean): void {
    this.events.set(seq, { seq, targetSeq, userId, unpin });
  }

  /** The pins of a conversation reply; an older snapshot never replaces a newer one. */
  setSnapshot(pinsSeq: number, pins: Pin[]): void {
    if (pinsSeq < this.snapshotSeq) return;
    this.snapshotSeq = pinsSeq;
    this.snapshot = pins.map((p) => ({ targetSeq: int(p.targetSeq), pinnedBy: p.pinnedBy ?? "", seq: int(p.seq) }));
  }

  /** The pinned messages, oldest pin first. */
  list(): Pinned[] {
    const byTarget = new Map<number, Pinned>(this.snapshot.map((p) => [p.targetSeq, p]));
    const later = [...this.events.values()].filter((e) => e.seq > this.snapshotSeq).sort((a, b) => a.seq - b.seq);
    for (const e of later) {
      if (e.unpin) byTarget.delete(e.targetSeq);
      else byTarget.set(e.targetSeq, { targetSeq: e.targetSeq, pinnedBy: e.userId, seq: e.seq });
    }
    return [...byTarget.values()].sort((a, b) => a.seq - b.seq);
  }

  isPinned(targetSeq: number): boolean {
    return this.list().some((p) => p.targetSeq === targetSeq);
  }
}

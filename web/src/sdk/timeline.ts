// Per-conversation ordering: events come out in seq order, exactly once,
// whatever order (and however often) they arrive in; a gap is reported so the
// caller can pull it from history. The same algorithm as the Rust SDK
// (docs/protocol.md section 6).

import { int, type Event, type Int64 } from "./protocol";

export class Timeline {
  /** Every seq up to here was delivered (or is a hole). */
  private deliveredSeq: number;
  /** Events above the next expected seq, waiting for the gap to fill; `null` marks a hole. */
  private readonly pending = new Map<number, Event | null>();

  constructor(deliveredUpTo: number) {
    this.deliveredSeq = deliveredUpTo;
  }

  get delivered(): number {
    return this.deliveredSeq;
  }

  /** Accepts an event; returns the events now deliverable, in order. */
  push(event: Event): Event[] {
    const seq = int(event.seq);
    if (seq <= this.deliveredSeq) return [];
    if (!this.pending.get(seq)) this.pending.set(seq, event);
    return this.drain();
  }

  /** Marks seqs that will never exist (a history reply's `skipped`). */
  skip(seqs: Int64[]): Event[] {
    for (const raw of seqs) {
      const s = int(raw);
      if (s > this.deliveredSeq && !this.pending.has(s)) this.pending.set(s, null);
    }
    return this.drain();
  }

  /**
   * Seqs below `from` are not mine to read (a group that shows members
   * added later only what came after they joined): treat them as delivered.
   */
  startAt(from: number): Event[] {
    if (from - 1 <= this.deliveredSeq) return [];
    for (const s of [...this.pending.keys()]) if (s < from) this.pending.delete(s);
    this.deliveredSeq = from - 1;
    return this.drain();
  }

  /** Applies a history reply: its events and holes, and where reading may start. */
  applyHistory(events: Event[] | undefined, skipped: Int64[] | undefined, visibleFrom?: Int64): Event[] {
    const out: Event[] = [];
    if (visibleFrom !== undefined) out.push(...this.startAt(int(visibleFrom)));
    for (const e of events ?? []) out.push(...this.push(e));
    out.push(...this.skip(skipped ?? []));
    return out;
  }

  /** The missing seqs below the lowest pending event, if any: `[from, to]`. */
  gap(): [number, number] | null {
    if (this.pending.size === 0) return null;
    const first = Math.min(...this.pending.keys());
    return first > this.deliveredSeq + 1 ? [this.deliveredSeq + 1, first - 1] : null;
  }

  private drain(): Event[] {
    const out: Event[] = [];
    for (;;) {
      const next = this.deliveredSeq + 1;
      if (!this.pending.has(next)) break;
      const e = this.pending.get(next);
      this.pending.delete(next);
      this.deliveredSeq = next;
      if (e) out.push(e);
    }
    return out;
  }
}

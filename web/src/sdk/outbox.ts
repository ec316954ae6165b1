// Messages on their way to the server. Each has a client_msg_id chosen once,
// so every retry (after a timeout, a reconnect, a reload) is the same send and
// the server stores it once (docs/protocol.md section 7). Items are sent one
// at a time, in order, and kept in storage until acknowledged, so a reload or
// a crash of the tab loses nothing typed.

import { ParleyError } from "./errors";
import type { KeyValueStore } from "./session";
import { int, type SendAck, type SendBody } from "./protocol";

export type OutboxState = "sending" | "acked" | "failed";

export interface OutboxItem {
  conversationId: string;
  clientMsgId: string;
  body: SendBody;
  state: OutboxState;
  createdAtMs: number;
  /** The seq the server gave it, once acknowledged. */
  seq: number;
  /** Why it failed (only for `failed`). */
  error: string;
}

/** A fresh client_msg_id: 20 characters of [a-z0-9], prefixed. */
export function newClientMsgId(): string {
  const bytes = new Uint8Array(12);
  globalThis.crypto.getRandomValues(bytes);
  return "w" + [...bytes].map((b) => (b % 36).toString(36)).join("") + Date.now().toString(36).slice(-7);
}

export type SendFn = (item: OutboxItem) => Promise<SendAck>;

export class Outbox {
  private items: OutboxItem[] = [];
  private running = false;
  /** Ids this page is done with (acked, delivered, discarded): never written back. */
  private readonly done = new Set<string>();

  constructor(
    private readonly store: KeyValueStore,
    private readonly key: string,
    private readonly changed: () => void,
  ) {
    try {
      const saved = JSON.parse(store.getItem(key) ?? "[]") as OutboxItem[];
      // Anything not acknowledged is sent again (same client_msg_id).
      this.items = saved.filter((i) => i.state !== "acked").map((i) => ({ ...i, state: i.state === "failed" ? "failed" : "sending" }));
    } catch {
      this.items = [];
    }
  }

  all(): readonly OutboxItem[] {
    return this.items;
  }

  forConversation(id: string): OutboxItem[] {
    return this.items.filter((i) => i.conversationId === id);
  }

  add(conversationId: string, body: SendBody): OutboxItem {
    const item: OutboxItem = {
      conversationId,
      clientMsgId: newClientMsgId(),
      body,
      state: "sending",
      createdAtMs: Date.now(),
      seq: 0,
      error: "",
    };
    this.items.push(item);
    this.save();
    return item;
  }

  /** The event of this send reached the timeline: the item has done its job. */
  delivered(conversationId: string, clientMsgId: string): void {
    const before = this.items.length;
    this.items = this.items.filter((i) => !(i.conversationId === conversationId && i.clientMsgId === clientMsgId));
    if (this.items.length !== before) {
      this.done.add(clientMsgId);
      this.save();
    }
  }

  retry(clientMsgId: string): void {
    for (const i of this.items) if (i.clientMsgId === clientMsgId && i.state === "failed") i.state = "sending";
    this.save();
  }

  discard(clientMsgId: string): void {
    this.items = this.items.filter((i) => i.clientMsgId !== clientMsgId || i.state === "acked");
    this.done.add(clientMsgId);
    this.save();
  }

  /**
   * Sends what is waiting, one at a time and in order, until everything is
   * acknowledged or failed, or the connection is gone (call again when it is
   * back). Transient errors are retried with backoff; others mark the item
   * failed for the user to retry or discard.
   */
  async pump(send: SendFn, online: () => boolean): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      let failures = 0;
      while (online()) {
        const next = this.items.find((i) => i.state === "sending");
        if (!next) break;
        try {
          const ack = await send(next);
          next.state = "acked";
          next.seq = int(ack.seq);
          this.done.add(next.clientMsgId);
          failures = 0;
          this.save();
        } catch (e) {
          const err = e instanceof ParleyError ? e : new ParleyError("internal", String(e));
          if (!err.retryable) {
            if (!("message" in next.body)) {
              // An edit, delete or reaction the server refused (e.g. a
              // reaction that is already there): nothing to show or retry.
              this.items = this.items.filter((i) => i !== next);
            } else {
              next.state = "failed";
              next.error = err.message;
            }
            this.save();
            continue;
          }
          // Offline: stop here; the next connection pumps again.
          if (!online()) break;
          failures++;
          const wait = err.retryAfterMs || Math.min(10_000, 250 * 2 ** Math.min(failures, 6));
          await new Promise((r) => setTimeout(r, wait));
        }
      }
    } finally {
      this.running = false;
    }
  }

  /**
   * Writes the unsent items back, merged with what other tabs of the same
   * user stored meanwhile (the key is shared): their items are kept unless
   * this page is done with them, so no tab's unsent message is dropped.
   */
  private save(): void {
    try {
      const mine = new Set(this.items.map((i) => i.clientMsgId));
      let others: OutboxItem[] = [];
      try {
        others = (JSON.parse(this.store.getItem(this.key) ?? "[]") as OutboxItem[]).filter(
          (i) => !mine.has(i.clientMsgId) && !this.done.has(i.clientMsgId),
        );
      } catch {
        // Unreadable: overwrite it with ours.
      }
      const keep = this.items.filter((i) => i.state !== "acked");
      this.store.setItem(this.key, JSON.stringify([...others, ...keep]));
    } catch {
      // Storage full or unavailable: the outbox still works for this page.
    }
    this.changed();
  }
}

import { describe, expect, it } from "vitest";
import { ParleyError } from "./errors";
import { Outbox, newClientMsgId, type OutboxItem } from "./outbox";
import type { KeyValueStore } from "./session";
import type { SendAck } from "./protocol";

class MemoryStore implements KeyValueStore {
  readonly map = new Map<string, string>();
  getItem(k: string) {
    return this.map.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.map.set(k, v);
  }
  removeItem(k: string) {
    this.map.delete(k);
  }
}

const ack = (item: OutboxItem, seq: number): SendAck => ({ conversationId: item.conversationId, seq: String(seq), clientMsgId: item.clientMsgId });
const text = (item: OutboxItem) => ("message" in item.body ? (item.body.message.text ?? "") : "");

describe("Outbox", () => {
  it("sends in order, one at a time, and marks each acknowledged", async () => {
    const store = new MemoryStore();
    const box = new Outbox(store, "k", () => {});
    for (const t of ["a", "b", "c"]) box.add("c1", { message: { text: t } });
    const sent: string[] = [];
    let inFlight = 0;
    await box.pump(async (item) => {
      expect(++inFlight).toBe(1);
      sent.push(text(item));
      await Promise.resolve();
      inFlight--;
      return ack(item, sent.length);
    }, () => true);
    expect(sent).toEqual(["a", "b", "c"]);
    expect(box.all().map((i) => [i.state, i.seq])).toEqual([
      ["acked", 1],
      ["acked", 2],
      ["acked", 3],
    ]);
    // Acknowledged sends are not kept for a reload.
    expect(JSON.parse(store.getItem("k")!)).toEqual([]);
  });

  it("retries transient errors with the same client_msg_id and fails the others", async () => {
    const box = new Outbox(new MemoryStore(), "k", () => {});
    const retried = box.add("c1", { message: { text: "retried" } });
    const refused = box.add("gone", { message: { text: "refused" } });
    const ids: string[] = [];
    let calls = 0;
    await box.pump(async (item) => {
      ids.push(item.clientMsgId);
      calls++;
      if (item.conversationId === "gone") throw new ParleyError("not_found", "no such conversation");
      if (calls === 1) throw new ParleyError("rate_limited", "slow down", 5);
      if (calls === 2) throw new ParleyError("unavailable", "storage is down");
      return ack(item, 9);
    }, () => true);
    expect(ids.slice(0, 3)).toEqual([retried.clientMsgId, retried.clientMsgId, retried.clientMsgId]);
    expect(retried.state).toBe("acked");
    expect(refused.state).toBe("failed");
    expect(refused.error).toBe("no such conversation");
    // The user retries the failed one: it goes out again with its original id.
    box.retry(refused.clientMsgId);
    let resent = "";
    await box.pump(async (item) => {
      resent = item.clientMsgId;
      return ack(item, 10);
    }, () => true);
    expect(resent).toBe(refused.clientMsgId);
  });

  it("stops when the connection drops and keeps unsent items across a reload", async () => {
    const store = new MemoryStore();
    const box = new Outbox(store, "k", () => {});
    const first = box.add("c1", { message: { text: "one" } });
    box.add("c1", { message: { text: "two" } });
    let online = true;
    await box.pump(async () => {
      online = false;
      throw new ParleyError("connection_lost", "dropped");
    }, () => online);
    expect(box.all().every((i) => i.state === "sending")).toBe(true);
    const reloaded = new Outbox(store, "k", () => {});
    expect(reloaded.all().map((i) => [i.clientMsgId, text(i), i.state])).toEqual([
      [first.clientMsgId, "one", "sending"],
      [box.all()[1]!.clientMsgId, "two", "sending"],
    ]);
    // Its event reached the timeline: the item is done.
    reloaded.delivered("c1", first.clientMsgId);
    expect(reloaded.all().map(text)).toEqual(["two"]);
  });

  it("makes valid, distinct client_msg_ids", () => {
    const ids = new Set(Array.from({ length: 1000 }, newClientMsgId));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
  });

  it("keeps another tab's unsent messages when saving (the storage key is shared)", async () => {
    const store = new MemoryStore();
    const tabA = new Outbox(store, "k", () => {});
    const tabB = new Outbox(store, "k", () => {});
    const a = tabA.add("c1", { message: { text: "from A" } });
    const b = tabB.add("c1", { message: { text: "from B" } });
    const stored = () => (JSON.parse(store.getItem("k")!) as OutboxItem[]).map((i) => i.clientMsgId).sort();
    expect(stored()).toEqual([a.clientMsgId, b.clientMsgId].sort());
    // A sends its own message; B's stays stored until B is done with it.
    await tabA.pump(async (item) => ack(item, 1), () => true);
    expect(stored()).toEqual([b.clientMsgId]);
    tabB.delivered("c1", b.clientMsgId);
    expect(stored()).toEqual([]);
  });
});

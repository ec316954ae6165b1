import { describe, expect, it } from "vitest";
import { Connection, type ConnectionStatus } from "./connection";
import { ParleyError } from "./errors";

/** A scripted stand-in for the browser's WebSocket. */
class FakeSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  static all: FakeSocket[] = [];
  readonly OPEN = 1;
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((m: { data: string }) => void) | null = null;
  onclose: ((e: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;

  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {
    FakeSocket.all.push(this);
    queueMicrotask(() => {
      this.readyState = 1;
      this.onopen?.();
    });
  }
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.readyState = 3;
  }
  reply(frame: Record<string, unknown>) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  serverClose(code: number) {
    this.readyState = 3;
    this.onclose?.({ code, reason: "" });
  }
}

const until = async (cond: () => boolean, what: string) => {
  const deadline = Date.now() + 2_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
};

function setup() {
  FakeSocket.all = [];
  const statuses: ConnectionStatus[] = [];
  const tokens: boolean[] = [];
  let onlineCalls = 0;
  const conn = new Connection(
    "ws://test/v1/ws",
    {
      accessToken: async (force) => {
        tokens.push(force);
        return force ? "fresh-token" : "token";
      },
      online: () => onlineCalls++,
      push: () => {},
      status: (s) => statuses.push(s),
    },
    { webSocket: FakeSocket as unknown as typeof WebSocket, backoffBaseMs: 1, backoffMaxMs: 5, requestTimeoutMs: 50 },
  );
  return { conn, statuses, tokens, online: () => onlineCalls };
}

async function authenticate(sock: FakeSocket) {
  await until(() => sock.sent.length > 0, "authenticate frame");
  const auth = sock.sent[0] as { id: string; authenticate: { accessToken: string } };
  sock.reply({ id: auth.id, authenticated: { userId: "u", sessionId: "s" } });
  return auth.authenticate.accessToken;
}

describe("Connection", () => {
  it("authenticates first, correlates replies by id, and fails requests when the socket drops", async () => {
    const { conn, online } = setup();
    conn.start();
    await until(() => FakeSocket.all.length === 1, "socket");
    const sock = FakeSocket.all[0]!;
    expect(sock.protocols).toEqual(["parley.v1.json"]);
    expect(await authenticate(sock)).toBe("token");
    await until(() => conn.online, "online");
    expect(online()).toBe(1);

    const a = conn.request("ping", { nonce: 1 });
    const b = conn.request("ping", { nonce: 2 });
    const [fa, fb] = sock.sent.slice(1) as { id: string }[];
    sock.reply({ id: fb!.id, pong: { nonce: "2" } });
    sock.reply({ id: fa!.id, error: { code: "rate_limited", message: "slow down", retryAfterMs: 30 } });
    expect(await b).toEqual({ nonce: "2" });
    await expect(a).rejects.toMatchObject({ code: "rate_limited", retryAfterMs: 30 });

    const lost = conn.request("sync", {});
    sock.serverClose(1012);
    await expect(lost).rejects.toMatchObject({ code: "connection_lost" });
    // It reconnects by itself.
    await until(() => FakeSocket.all.length === 2, "reconnect");
    await authenticate(FakeSocket.all[1]!);
    await until(() => online() === 2, "online again");
    conn.stop();
  });

  it("times out a request that gets no reply", async () => {
    const { conn } = setup();
    conn.start();
    await until(() => FakeSocket.all.length === 1, "socket");
    await authenticate(FakeSocket.all[0]!);
    await until(() => conn.online, "online");
    const e = await conn.request("sync", {}).catch((e: ParleyError) => e);
    expect(e).toBeInstanceOf(ParleyError);
    expect((e as ParleyError).code).toBe("timeout");
    expect((e as ParleyError).retryable).toBe(true);
    conn.stop();
  });

  it("refreshes the token after a refused one, and signs out on 4403", async () => {
    const { conn, tokens, statuses } = setup();
    conn.start();
    await until(() => FakeSocket.all.length === 1, "socket");
    const first = FakeSocket.all[0]!;
    await until(() => first.sent.length > 0, "authenticate");
    const auth = first.sent[0] as { id: string };
    first.reply({ id: auth.id, error: { code: "token_expired", message: "expired" } });
    await until(() => FakeSocket.all.length === 2, "retry");
    expect(await authenticate(FakeSocket.all[1]!)).toBe("fresh-token");
    expect(tokens).toEqual([false, true]);
    await until(() => conn.online, "online");
    FakeSocket.all[1]!.serverClose(4403);
    await until(() => conn.status.state === "signed_out", "signed out");
    expect(statuses.some((s) => s.state === "offline")).toBe(false);
    expect(FakeSocket.all).toHaveLength(2);
    await expect(conn.request("sync", {})).rejects.toMatchObject({ code: "not_connected" });
  });

  it("backs off while the server is unreachable and reconnects when told the network is back", async () => {
    const { conn, statuses } = setup();
    conn.start();
    for (let i = 1; i <= 3; i++) {
      await until(() => FakeSocket.all.length === i, `attempt ${i}`);
      FakeSocket.all[i - 1]!.serverClose(1006);
    }
    await until(() => statuses.filter((s) => s.state === "offline").length >= 3, "offline states");
    conn.reconnectNow();
    await until(() => FakeSocket.all.length >= 4, "reconnect");
    await authenticate(FakeSocket.all[FakeSocket.all.length - 1]!);
    await until(() => conn.online, "online");
    conn.stop();
    expect(conn.status.state).toBe("stopped");
  });
});

// One logical connection to a gateway: a WebSocket that is reopened with
// exponential backoff and full jitter whenever it drops, authenticated as
// its first frame, with request/reply correlation by frame id and an
// application-level ping that detects dead sockets the browser has not
// noticed (a laptop that slept, a network that changed).

import { ParleyError } from "./errors";
import {
  CloseCode,
  SUBPROTOCOL_JSON,
  type Push,
  type Replies,
  type RequestName,
  type Requests,
  type ServerFrame,
} from "./protocol";

export type ConnectionStatus =
  | { state: "connecting"; attempt: number }
  | { state: "online" }
  | { state: "offline"; reason: string; retryAtMs: number }
  | { state: "signed_out"; reason: string }
  | { state: "stopped" };

export interface ConnectionHooks {
  /** An access token; `force` asks for a refreshed one (the last was refused). */
  accessToken(force: boolean): Promise<string>;
  /** Called once per connection, right after it authenticated. */
  online(): void;
  push(frame: Push): void;
  status(s: ConnectionStatus): void;
}

export interface ConnectionOptions {
  /** A WebSocket constructor (the browser's by default). */
  webSocket?: typeof WebSocket;
  requestTimeoutMs?: number;
  pingIntervalMs?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

type Reply<K extends RequestName> = Replies[K][keyof Replies[K]];

interface Pending {
  name: RequestName;
  resolve(frame: ServerFrame): void;
  reject(e: ParleyError): void;
  timer: ReturnType<typeof setTimeout>;
}

interface Outcome {
  code: number;
  reason: string;
  wasOnline: boolean;
  authError?: string;
}

export class Connection {
  private readonly ws: typeof WebSocket;
  private readonly requestTimeoutMs: number;
  private readonly pingIntervalMs: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;

  private socket: WebSocket | null = null;
  private isOnline = false;
  private stopped = true;
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private wake: (() => void) | null = null;
  private current: ConnectionStatus = { state: "stopped" };

  constructor(
    private readonly url: string,
    private readonly hooks: ConnectionHooks,
    opts: ConnectionOptions = {},
  ) {
    this.ws = opts.webSocket ?? globalThis.WebSocket;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 15_000;
    this.pingIntervalMs = opts.pingIntervalMs ?? 25_000;
    this.backoffBaseMs = opts.backoffBaseMs ?? 100;
    this.backoffMaxMs = opts.backoffMaxMs ?? 10_000;
  }

  get status(): ConnectionStatus {
    return this.current;
  }

  get online(): boolean {
    return this.isOnline;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
    this.socket?.close(CloseCode.Normal);
    this.setStatus({ state: "stopped" });
  }

  /** Skips the backoff wait (the browser says the network is back). */
  reconnectNow(): void {
    this.wake?.();
  }

  /** Sends a request and waits for its reply payload; rejects with a `ParleyError`. */
  request<K extends RequestName>(name: K, body: Requests[K], timeoutMs?: number): Promise<Reply<K>> {
    if (!this.isOnline) return Promise.reject(new ParleyError("not_connected", "not connected"));
    return this.raw(name, body, timeoutMs).then((frame) => {
      const { id: _id, ...payload } = frame;
      return Object.values(payload)[0] as Reply<K>;
    });
  }

  private raw(name: RequestName, body: unknown, timeoutMs?: number): Promise<ServerFrame> {
    const socket = this.socket;
    if (!socket || socket.readyState !== this.ws.OPEN) {
      return Promise.reject(new ParleyError("not_connected", "not connected"));
    }
    const id = String(this.nextId++);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ParleyError("timeout", `no reply to ${name} in time`));
      }, timeoutMs ?? this.requestTimeoutMs);
      this.pending.set(id, { name, resolve, reject, timer });
      socket.send(JSON.stringify({ id, [name]: body }));
    });
  }

  private setStatus(s: ConnectionStatus): void {
    this.current = s;
    this.hooks.status(s);
  }

  private async run(): Promise<void> {
    let attempt = 0;
    let forceRefresh = false;
    while (!this.stopped) {
      this.setStatus({ state: "connecting", attempt });
      let token: string;
      try {
        token = await this.hooks.accessToken(forceRefresh);
      } catch (e) {
        if (e instanceof ParleyError && e.code === "signed_out") {
          this.stopped = true;
          this.setStatus({ state: "signed_out", reason: e.message });
          return;
        }
        attempt++;
        await this.backoff(attempt, `cannot refresh the session: ${(e as Error).message}`);
        continue;
      }
      const outcome = await this.session(token);
      if (this.stopped) return;
      if (outcome.code === CloseCode.Revoked) {
        this.stopped = true;
        this.setStatus({ state: "signed_out", reason: "this session was signed out" });
        return;
      }
      // A refused token: refresh once without waiting, then back off as usual.
      const tokenRefused = outcome.code === CloseCode.Unauthenticated || outcome.authError !== undefined;
      if (outcome.wasOnline) attempt = 0;
      attempt++;
      if (tokenRefused && !forceRefresh) {
        forceRefresh = true;
        continue;
      }
      forceRefresh = tokenRefused;
      const floor = outcome.code === CloseCode.RateLimited ? 5_000 : 0;
      await this.backoff(attempt, describeClose(outcome), floor);
    }
  }

  private async backoff(attempt: number, reason: string, floorMs = 0): Promise<void> {
    const cap = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** Math.min(attempt, 16));
    const delay = Math.max(floorMs, Math.random() * cap);
    this.setStatus({ state: "offline", reason, retryAtMs: Date.now() + delay });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, delay);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
    this.wake = null;
  }

  /** One WebSocket from open to close. */
  private session(token: string): Promise<Outcome> {
    return new Promise((resolve) => {
      let socket: WebSocket;
      try {
        socket = new this.ws(this.url, [SUBPROTOCOL_JSON]);
      } catch (e) {
        resolve({ code: 0, reason: String(e), wasOnline: false });
        return;
      }
      this.socket = socket;
      let wasOnline = false;
      let authError: string | undefined;
      let pinger: ReturnType<typeof setInterval> | undefined;
      let finished = false;

      const finish = (code: number, reason: string) => {
        if (finished) return;
        finished = true;
        clearInterval(pinger);
        this.isOnline = false;
        if (this.socket === socket) this.socket = null;
        for (const [id, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(new ParleyError("connection_lost", "the connection dropped before the reply"));
          this.pending.delete(id);
        }
        socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
        if (socket.readyState === this.ws.OPEN || socket.readyState === this.ws.CONNECTING) {
          socket.close(CloseCode.Normal);
        }
        resolve({ code, reason, wasOnline, authError });
      };

      socket.onopen = () => {
        this.raw("authenticate", { accessToken: token }, 10_000).then(
          (frame) => {
            if (frame.error) {
              authError = frame.error.code;
              finish(CloseCode.Unauthenticated, frame.error.message ?? frame.error.code);
              return;
            }
            wasOnline = true;
            this.isOnline = true;
            this.setStatus({ state: "online" });
            pinger = setInterval(() => this.ping(socket, finish), this.pingIntervalMs);
            this.hooks.online();
          },
          (e: ParleyError) => finish(0, e.message),
        );
      };
      socket.onmessage = (msg) => this.onMessage(msg.data);
      socket.onclose = (ev) => finish(ev.code, ev.reason);
      socket.onerror = () => {
        // A close event follows; it carries the code.
      };
    });
  }

  private ping(socket: WebSocket, finish: (code: number, reason: string) => void): void {
    if (this.socket !== socket) return;
    this.raw("ping", { nonce: Date.now() }, 10_000).catch((e: ParleyError) => {
      if (e.code === "timeout") finish(0, "the server stopped answering");
    });
  }

  private onMessage(data: unknown): void {
    if (typeof data !== "string") return;
    let frame: ServerFrame;
    try {
      frame = JSON.parse(data) as ServerFrame;
    } catch {
      return;
    }
    if (!frame.id) {
      this.hooks.push(frame);
      return;
    }
    const p = this.pending.get(frame.id);
    if (!p) return;
    this.pending.delete(frame.id);
    clearTimeout(p.timer);
    if (frame.error && p.name !== "authenticate") {
      p.reject(new ParleyError(frame.error.code, frame.error.message ?? "", frame.error.retryAfterMs ?? 0));
    } else {
      p.resolve(frame);
    }
  }
}

function describeClose(o: Outcome): string {
  switch (o.code) {
    case CloseCode.Shutdown:
      return "the server is restarting";
    case CloseCode.Resync:
      return "fell behind; catching up";
    case CloseCode.Idle:
      return "the connection went idle";
    case CloseCode.TooManyConnections:
      return "too many open connections for this account";
    case CloseCode.RateLimited:
      return "sending too fast";
    default:
      return o.reason || "cannot reach the server";
  }
}

// The signed-in session: tokens kept in a storage shared by every tab of the
// app, refreshed by one tab at a time.
//
// Refresh tokens are single use and a reused one revokes the session
// (docs/protocol.md section 2), so two tabs must never refresh with the same
// token. Refreshes run under a Web Lock held across tabs, and inside it the
// stored pair is read again: if another tab refreshed meanwhile, its fresh
// access token is used instead of refreshing a second time.

import { ParleyError } from "./errors";
import type { AuthApi, TokenPair } from "./http";

export interface Session extends TokenPair {
  username: string;
}

/** Where the session lives: `localStorage` in a browser, a Map in tests. */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** Refresh when the access token has less than this left. */
const REFRESH_MARGIN_MS = 60_000;

export class SessionStore {
  private readonly key: string;

  constructor(
    private readonly store: KeyValueStore,
    private readonly api: AuthApi,
    namespace = "parley",
  ) {
    this.key = `${namespace}.session`;
  }

  get storageKey(): string {
    return this.key;
  }

  load(): Session | null {
    const raw = this.store.getItem(this.key);
    if (!raw) return null;
    try {
      const s = JSON.parse(raw) as Session;
      return s.refreshToken && s.userId ? s : null;
    } catch {
      return null;
    }
  }

  save(s: Session): void {
    this.store.setItem(this.key, JSON.stringify(s));
  }

  clear(): void {
    this.store.removeItem(this.key);
  }

  /**
   * A session whose access token is good for at least another minute,
   * refreshing it if needed. Throws `signed_out` if there is no session or
   * the server refused the refresh token, `network`/`unavailable` if the
   * server could not be asked (try again later).
   */
  async fresh(force = false): Promise<Session> {
    return withLock(`${this.key}.refresh`, async () => {
      const s = this.load();
      if (!s) throw new ParleyError("signed_out", "not signed in");
      if (!force && s.accessExpiresAtMs - Date.now() > REFRESH_MARGIN_MS) return s;
      let pair: TokenPair;
      try {
        pair = await this.api.refresh(s.refreshToken);
      } catch (e) {
        if (e instanceof ParleyError && (e.code === "unauthenticated" || e.code === "invalid_argument")) {
          this.clear();
          throw new ParleyError("signed_out", "the session has ended: sign in again");
        }
        throw e;
      }
      const next = { ...pair, username: s.username };
      this.save(next);
      return next;
    });
  }
}

/** Runs `f` holding a lock shared by every tab (Web Locks), where available. */
async function withLock<T>(name: string, f: () => Promise<T>): Promise<T> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  if (locks?.request) return locks.request(name, f) as Promise<T>;
  return f();
}

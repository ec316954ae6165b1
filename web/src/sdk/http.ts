// Accounts and tokens over HTTP (docs/protocol.md section 2).

import { ParleyError } from "./errors";
import { int, type Int64, type User } from "./protocol";

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  accessExpiresAtMs: number;
  userId: string;
  sessionId: string;
}

interface WireTokenPair {
  accessToken: string;
  refreshToken: string;
  accessExpiresAtMs?: Int64;
  userId: string;
  sessionId: string;
}

export class AuthApi {
  constructor(private readonly baseUrl: string) {}

  register(username: string, password: string): Promise<User> {
    return this.post<User>("/v1/auth/register", { username, password });
  }

  async login(username: string, password: string, deviceName: string): Promise<TokenPair> {
    return tokenPair(await this.post<WireTokenPair>("/v1/auth/login", { username, password, deviceName }));
  }

  /** Spends `refreshToken` and returns the new pair: store it before using it. */
  async refresh(refreshToken: string): Promise<TokenPair> {
    return tokenPair(await this.post<WireTokenPair>("/v1/auth/refresh", { refreshToken }));
  }

  async logout(refreshToken: string): Promise<void> {
    await this.post<unknown>("/v1/auth/logout", { refreshToken });
  }

  private async post<T>(path: string, body: unknown): Promise<T> {
    let resp: Response;
    try {
      resp = await fetch(this.baseUrl + path, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    } catch (e) {
      throw new ParleyError("network", `cannot reach the server: ${String(e)}`);
    }
    const text = await resp.text();
    if (!resp.ok) {
      let code = resp.status >= 500 ? "unavailable" : "invalid_argument";
      let message = `HTTP ${resp.status}`;
      let retryAfterMs = 0;
      try {
        const err = JSON.parse(text).error;
        if (err?.code) code = err.code;
        if (err?.message) message = err.message;
        if (typeof err?.retryAfterMs === "number") retryAfterMs = err.retryAfterMs;
      } catch {
        // Not JSON (a proxy's error page): keep the status.
      }
      throw new ParleyError(code, message, retryAfterMs);
    }
    return (text ? JSON.parse(text) : {}) as T;
  }
}

function tokenPair(w: WireTokenPair): TokenPair {
  return {
    accessToken: w.accessToken,
    refreshToken: w.refreshToken,
    accessExpiresAtMs: int(w.accessExpiresAtMs),
    userId: w.userId,
    sessionId: w.sessionId,
  };
}

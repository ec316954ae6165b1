// Accounts and tokens over HTTP (docs/protocol.md section 2), and the
// one HTTP call every HTTP request goes through.

import { ParleyError } from "./errors";
import { int, type Int64, type User } from "./protocol";
import type { RegistrationMode } from "./account";

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  accessExpiresAtMs: number;
  userId: string;
  sessionId: string;
  /** Set by login and single sign-on. */
  username?: string;
}

/** A single sign-on provider, shown as "Sign in with {name}". */
export interface SsoProvider {
  id: string;
  name: string;
}

interface WireTokenPair {
  accessToken: string;
  refreshToken: string;
  accessExpiresAtMs?: Int64;
  userId: string;
  sessionId: string;
  username?: string;
}

export class AuthApi {
  constructor(private readonly baseUrl: string) {}

  register(username: string, password: string, inviteCode = ""): Promise<User> {
    return this.post<User>("/v1/auth/register", { username, password, inviteCode });
  }

  /** The single sign-on providers of this server. */
  async providers(): Promise<SsoProvider[]> {
    const r = await request<{ providers?: SsoProvider[] }>(this.baseUrl, "GET", "/v1/auth/providers");
    return r.providers ?? [];
  }

  /** Where the browser goes to sign in with `providerId`. */
  ssoStartUrl(providerId: string, deviceName: string): string {
    return `${this.baseUrl}/v1/auth/oidc/${encodeURIComponent(providerId)}/start?device=${encodeURIComponent(deviceName)}`;
  }

  /** Trades the one-time ticket a single sign-on ended with for tokens. */
  async redeemSso(ticket: string): Promise<TokenPair> {
    return tokenPair(await this.post<WireTokenPair>("/v1/auth/oidc/redeem", { ticket }));
  }

  /** Who may register now: the sign-up screen adapts to it. */
  async registrationMode(): Promise<RegistrationMode> {
    const r = await request<{ mode?: RegistrationMode }>(this.baseUrl, "GET", "/v1/auth/registration");
    return r.mode ?? "REGISTRATION_MODE_OPEN";
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

  private post<T>(path: string, body: unknown): Promise<T> {
    return request<T>(this.baseUrl, "POST", path, body);
  }
}

/**
 * One HTTP call: a JSON body if given, `Authorization: Bearer` if a token
 * is; the JSON answer (`{}` when empty), or the server's error as a
 * ParleyError.
 */
export async function request<T>(baseUrl: string, method: string, path: string, body?: unknown, token?: string): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers["authorization"] = `Bearer ${token}`;
  let resp: Response;
  try {
    resp = await fetch(baseUrl + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
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
  if (!text) return {} as T;
  // Some answers are JSON lines (the audit export): returned as text.
  try {
    return JSON.parse(text) as T;
  } catch {
    return text as T;
  }
}

function tokenPair(w: WireTokenPair): TokenPair {
  return {
    accessToken: w.accessToken,
    refreshToken: w.refreshToken,
    accessExpiresAtMs: int(w.accessExpiresAtMs),
    userId: w.userId,
    sessionId: w.sessionId,
    username: w.username,
  };
}

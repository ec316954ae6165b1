// The signed-in account and administration over HTTP (docs/protocol.md
// sections 2.3 and 2.4). Every call takes a fresh access token from the
// session (refreshed under the cross-tab lock when needed).

import { request } from "./http";
import { int, type Int64, type User } from "./protocol";

export type RegistrationMode = "REGISTRATION_MODE_OPEN" | "REGISTRATION_MODE_INVITE_ONLY" | "REGISTRATION_MODE_CLOSED" | "REGISTRATION_MODE_SSO_ONLY";
export type AccountRole = "ACCOUNT_ROLE_USER" | "ACCOUNT_ROLE_ADMIN";

export interface Account {
  userId: string;
  username: string;
  role: AccountRole;
  createdAtMs: number;
  /** 0 while active. */
  deactivatedAtMs: number;
  displayName: string;
  statusText: string;
}

export interface SessionInfo {
  sessionId: string;
  deviceName: string;
  createdAtMs: number;
  lastSeenMs: number;
  clientAddress: string;
  userAgent: string;
  current: boolean;
}

export interface Invite {
  id: string;
  usesLeft: number;
  expiresAtMs: number;
  note: string;
  createdBy: string;
  createdAtMs: number;
}

export interface AuditEntry {
  id: string;
  atMs: number;
  actorId: string;
  actorUsername: string;
  actorAddress: string;
  action: string;
  targetId: string;
  targetUsername: string;
  detail: string;
}

type Wire<T> = { [K in keyof T]?: T[K] extends number ? Int64 : T[K] };

function account(w: Wire<Account> | undefined): Account {
  return {
    userId: w?.userId ?? "",
    username: w?.username ?? "",
    role: w?.role ?? "ACCOUNT_ROLE_USER",
    createdAtMs: int(w?.createdAtMs),
    deactivatedAtMs: int(w?.deactivatedAtMs),
    displayName: w?.displayName ?? "",
    statusText: w?.statusText ?? "",
  };
}

function session(w: Wire<SessionInfo>): SessionInfo {
  return {
    sessionId: w.sessionId ?? "",
    deviceName: w.deviceName ?? "",
    createdAtMs: int(w.createdAtMs),
    lastSeenMs: int(w.lastSeenMs),
    clientAddress: w.clientAddress ?? "",
    userAgent: w.userAgent ?? "",
    current: w.current ?? false,
  };
}

function invite(w: Wire<Invite> | undefined): Invite {
  return {
    id: w?.id ?? "",
    usesLeft: int(w?.usesLeft),
    expiresAtMs: int(w?.expiresAtMs),
    note: w?.note ?? "",
    createdBy: w?.createdBy ?? "",
    createdAtMs: int(w?.createdAtMs),
  };
}

function entry(w: Wire<AuditEntry>): AuditEntry {
  return {
    id: w.id ?? "",
    atMs: int(w.atMs),
    actorId: w.actorId ?? "",
    actorUsername: w.actorUsername ?? "",
    actorAddress: w.actorAddress ?? "",
    action: w.action ?? "",
    targetId: w.targetId ?? "",
    targetUsername: w.targetUsername ?? "",
    detail: w.detail ?? "",
  };
}

export class AccountApi {
  constructor(
    private readonly baseUrl: string,
    private readonly token: () => Promise<string>,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    return request<T>(this.baseUrl, method, path, body, await this.token());
  }

  // ---- my account -------------------------------------------------------

  async me(): Promise<Account> {
    return account(await this.call<Wire<Account>>("GET", "/v1/account"));
  }

  async sessions(): Promise<SessionInfo[]> {
    const r = await this.call<{ sessions?: Wire<SessionInfo>[] }>("GET", "/v1/account/sessions");
    return (r.sessions ?? []).map(session);
  }

  async endSessions(sessionIds: string[]): Promise<void> {
    await this.call("POST", "/v1/account/sessions/end", { sessionIds });
  }

  async endOtherSessions(): Promise<void> {
    await this.call("POST", "/v1/account/sessions/end", { allOthers: true });
  }

  /** People who share a conversation with me (never strangers), by username. */
  async people(prefix = ""): Promise<User[]> {
    const r = await this.call<{ users?: User[] }>("GET", `/v1/account/people?${new URLSearchParams({ prefix })}`);
    return r.users ?? [];
  }

  /** What others see: a display name (empty: the username) and a status line. */
  async updateProfile(displayName: string, statusText: string): Promise<Account> {
    return account(await this.call<Wire<Account>>("PUT", "/v1/account/profile", { displayName, statusText }));
  }

  /** Every other session of the account ends. */
  async changePassword(oldPassword: string, newPassword: string): Promise<void> {
    await this.call("POST", "/v1/account/password", { oldPassword, newPassword });
  }

  // ---- administration (admins only) -------------------------------------

  async listAccounts(prefix = "", after = "", limit = 50): Promise<{ accounts: Account[]; next: string }> {
    const q = new URLSearchParams({ prefix, after, limit: String(limit) });
    const r = await this.call<{ accounts?: Wire<Account>[]; next?: string }>("GET", `/v1/admin/accounts?${q}`);
    return { accounts: (r.accounts ?? []).map(account), next: r.next ?? "" };
  }

  async accountDetail(userId: string): Promise<{ account: Account; sessions: SessionInfo[] }> {
    const r = await this.call<{ account?: Wire<Account>; sessions?: Wire<SessionInfo>[] }>("GET", `/v1/admin/accounts/${encodeURIComponent(userId)}`);
    return { account: account(r.account), sessions: (r.sessions ?? []).map(session) };
  }

  async createAccount(username: string, password: string, role: AccountRole = "ACCOUNT_ROLE_USER"): Promise<Account> {
    return account(await this.call<Wire<Account>>("POST", "/v1/admin/accounts", { username, password, role }));
  }

  async setActive(userId: string, active: boolean): Promise<Account> {
    return account(await this.call<Wire<Account>>("POST", `/v1/admin/accounts/${encodeURIComponent(userId)}/active`, { active }));
  }

  async setRole(userId: string, role: AccountRole): Promise<Account> {
    return account(await this.call<Wire<Account>>("POST", `/v1/admin/accounts/${encodeURIComponent(userId)}/role`, { role }));
  }

  async resetPassword(userId: string, newPassword: string): Promise<void> {
    await this.call("POST", `/v1/admin/accounts/${encodeURIComponent(userId)}/password`, { newPassword });
  }

  /** No ids: every session of the user. */
  async endUserSessions(userId: string, sessionIds: string[] = []): Promise<void> {
    await this.call("POST", `/v1/admin/accounts/${encodeURIComponent(userId)}/sessions/end`, { sessionIds });
  }

  async registration(): Promise<RegistrationMode> {
    const r = await this.call<{ mode?: RegistrationMode }>("GET", "/v1/admin/registration");
    return r.mode ?? "REGISTRATION_MODE_OPEN";
  }

  async setRegistration(mode: RegistrationMode): Promise<RegistrationMode> {
    const r = await this.call<{ mode?: RegistrationMode }>("PUT", "/v1/admin/registration", { mode });
    return r.mode ?? mode;
  }

  async invites(): Promise<Invite[]> {
    const r = await this.call<{ invites?: Wire<Invite>[] }>("GET", "/v1/admin/invites");
    return (r.invites ?? []).map(invite);
  }

  /** The code is returned only here. */
  async createInvite(uses: number, validDays: number, note: string): Promise<{ invite: Invite; code: string }> {
    const r = await this.call<{ invite?: Wire<Invite>; code?: string }>("POST", "/v1/admin/invites", { uses, validDays, note });
    return { invite: invite(r.invite), code: r.code ?? "" };
  }

  async revokeInvite(id: string): Promise<void> {
    await this.call("DELETE", `/v1/admin/invites/${encodeURIComponent(id)}`);
  }

  async audit(after = "", limit = 100): Promise<{ entries: AuditEntry[]; next: string }> {
    const q = new URLSearchParams({ after, limit: String(limit) });
    const r = await this.call<{ entries?: Wire<AuditEntry>[]; next?: string }>("GET", `/v1/admin/audit?${q}`);
    return { entries: (r.entries ?? []).map(entry), next: r.next ?? "" };
  }

  /** The whole log as JSON lines. */
  async auditExport(): Promise<string> {
    const r = await this.call<string | object>("GET", "/v1/admin/audit/export");
    return typeof r === "string" ? r : "";
  }
}

// ParleyClient: everything a chat UI needs, kept in sync with the server.
// It signs in, holds one reconnecting connection, catches up after every
// (re)connect (sync, then history from where each conversation left off),
// orders pushes per conversation and pulls gaps, sends through a persistent
// outbox, and tracks members, read receipts, presence and typing. A UI reads
// its state and re-renders on `onChange`.

import { Connection, type ConnectionStatus } from "./connection";
import { mentionedNames } from "./mentions";
import { allMembers, eachPage } from "./paging";
import { ConversationModel } from "./conversation";
import { ParleyError } from "./errors";
import { AccountApi } from "./account";
import { AuthApi } from "./http";
import { Outbox, newClientMsgId, type OutboxItem } from "./outbox";
import { SessionStore, type KeyValueStore, type Session } from "./session";
import { Timeline } from "./timeline";
import {
  int,
  type Conversation,
  type ConversationState,
  type ConversationUpdate,
  type Event,
  type Invitation,
  type Member,
  type MessageBody,
  type Push,
  type Role,
  type SearchHit,
  type SearchRequest,
  type SendBody,
  type User,
} from "./protocol";

export interface ClientOptions {
  /** The gateway's base URL, e.g. `https://chat.example.com` (no trailing slash). */
  baseUrl: string;
  /** Where the session and outbox are kept (`localStorage` in a browser). */
  storage: KeyValueStore;
  /** Prefix of the storage keys, to run several clients side by side. */
  namespace?: string;
  /** Shown in the user's list of sessions. */
  deviceName?: string;
  /** A WebSocket constructor (the browser's by default). */
  webSocket?: typeof WebSocket;
}

export interface Presence {
  online: boolean;
  lastSeenMs: number;
}

/** Events loaded per page: the first screen of a conversation and each scroll up. */
export const PAGE = 50;
/** How long a typing indicator lasts without a new typing push. */
const TYPING_SHOWN_MS = 6_000;
/** Send a typing request at most this often per conversation. */
const TYPING_EVERY_MS = 3_000;
/** Users per lookup or presence request (the server's limit is 200). */
const BATCH = 200;
/** Conversations of the list's first screen, fetched before the rest. */
const FIRST_SCREEN = 50;
/** How long a gap in live pushes may stay open before it is pulled (as the Rust SDK's GAP_GRACE). */
export const GAP_GRACE_MS = 150;

export class ParleyClient {
  readonly api: AuthApi;
  private readonly sessions: SessionStore;
  private readonly storage: KeyValueStore;
  private readonly namespace: string;
  private readonly deviceName: string;
  private readonly webSocket?: typeof WebSocket;

  private conn: Connection | null = null;
  private outboxStore: Outbox | null = null;
  private current: Session | null;
  private statusValue: ConnectionStatus = { state: "stopped" };
  private signedOutReason = "";

  private readonly convs = new Map<string, ConversationModel>();
  private readonly users = new Map<string, string>();
  /** Display names and status lines, by user id (from lookups). */
  private readonly profiles = new Map<string, { displayName: string; statusText: string }>();
  private readonly lookingUp = new Set<string>();
  /** Messages fetched to show out of their list (pins), by "conversation/seq". */
  private readonly fetchedMessages = new Map<string, Event | undefined>();
  private readonly presenceMap = new Map<string, Presence>();
  private readonly typingMap = new Map<string, Map<string, number>>();
  private readonly typingSent = new Map<string, number>();
  private readonly marking = new Set<string>();
  private typingTimer: ReturnType<typeof setTimeout> | null = null;
  private synced = false;
  /** My pending group invitations, by group id. */
  private readonly invitationMap = new Map<string, Invitation>();
  /** The people I blocked. */
  private readonly blockedSet = new Set<string>();

  private readonly listeners = new Set<() => void>();
  private notifyQueued = false;

  /** The signed-in account and, for admins, administration. */
  readonly account: AccountApi;

  constructor(opts: ClientOptions) {
    this.api = new AuthApi(opts.baseUrl);
    this.account = new AccountApi(opts.baseUrl, async () => {
      const s = await this.sessions.fresh();
      this.current = s;
      return s.accessToken;
    });
    this.storage = opts.storage;
    this.namespace = opts.namespace ?? "parley";
    this.deviceName = opts.deviceName ?? "web";
    this.webSocket = opts.webSocket;
    this.sessions = new SessionStore(opts.storage, this.api, this.namespace);
    this.current = this.sessions.load();
    if (this.current) this.users.set(this.current.userId, this.current.username);
    this.wsUrl = opts.baseUrl.replace(/^http/, "ws") + "/v1/ws";
  }

  private readonly wsUrl: string;

  // ---- state for the UI -------------------------------------------------

  get session(): Session | null {
    return this.current;
  }

  get me(): string {
    return this.current?.userId ?? "";
  }

  get status(): ConnectionStatus {
    return this.statusValue;
  }

  /** Why the last session ended (shown on the sign-in screen). */
  get signedOutBecause(): string {
    return this.signedOutReason;
  }

  /** Whether the first sync after signing in has completed. */
  get ready(): boolean {
    return this.synced;
  }

  /** Conversations: pinned ones first (latest pin first), then the most recently active. */
  conversations(): ConversationModel[] {
    return [...this.convs.values()]
      .filter((c) => !c.left)
      .sort(
        (a, b) =>
          b.settings.pinnedAtMs - a.settings.pinnedAtMs || b.lastActivityMs - a.lastActivityMs || a.id.localeCompare(b.id),
      );
  }

  /**
   * Changes my own settings of a conversation (mute until a time or -1 for
   * ever, archive, pin to the top, mark unread): shown at once, stored by
   * the server, and put back if it refuses.
   */
  async updateSettings(conversationId: string, change: Partial<ConversationModel["settings"]>): Promise<void> {
    const c = this.convs.get(conversationId);
    if (!c) return;
    const before = { ...c.settings };
    c.settings = { ...c.settings, ...change };
    this.notify();
    try {
      const r = await this.request("updateSettings", { conversationId, settings: c.settings });
      if (r.settings) c.applySettings(r.settings);
    } catch (e) {
      c.settings = before;
      throw e;
    } finally {
      this.notify();
    }
  }

  /**
   * Deletes a conversation for me: its history so far is gone from my
   * devices (and from what the server shows me), and it leaves my list
   * until someone writes in it again. The only way out of a direct
   * conversation (it cannot be left).
   */
  async hide(conversationId: string): Promise<void> {
    const c = this.convs.get(conversationId);
    if (!c) return;
    await this.updateSettings(conversationId, { clearedSeq: c.headSeq, markedUnread: false });
  }

  conversation(id: string): ConversationModel | undefined {
    return this.convs.get(id);
  }

  /** A user's name, or a short form of the id until it is known. */
  userName(id: string): string {
    return this.users.get(id) ?? (this.lookup([id]), `user ${id.slice(-6)}`);
  }

  /** The name to show for a user: their display name, else their username. */
  displayName(id: string): string {
    return this.profiles.get(id)?.displayName || this.userName(id);
  }

  /** A user's status line, if they set one and it is known. */
  statusText(id: string): string {
    return this.profiles.get(id)?.statusText ?? "";
  }

  /** Notes what a lookup said of users' names and status. */
  private learn(users: User[]): void {
    for (const u of users) {
      this.users.set(u.id, u.username);
      this.profiles.set(u.id, { displayName: u.displayName ?? "", statusText: u.statusText ?? "" });
    }
  }

  /** The name to show for a conversation: the other person of a DM, or the group title. */
  title(c: ConversationModel): string {
    if (c.kind === "direct") {
      const other = this.dmPartner(c);
      return other ? this.displayName(other) : "Direct message";
    }
    return c.title || "Untitled group";
  }

  dmPartner(c: ConversationModel): string | undefined {
    if (c.kind !== "direct") return undefined;
    return [...c.members.keys()].find((id) => id !== this.me) ?? this.me;
  }

  presence(userId: string): Presence | undefined {
    return this.presenceMap.get(userId);
  }

  /** Users typing in a conversation right now (never me). */
  typingIn(conversationId: string): string[] {
    const now = Date.now();
    const m = this.typingMap.get(conversationId);
    return m ? [...m].filter(([, until]) => until > now).map(([id]) => id) : [];
  }

  /** Sends of this conversation not yet in its timeline. */
  pending(conversationId: string): OutboxItem[] {
    return this.outboxStore?.forConversation(conversationId) ?? [];
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- accounts ---------------------------------------------------------

  async register(username: string, password: string, inviteCode = ""): Promise<void> {
    await this.api.register(username, password, inviteCode);
    await this.login(username, password);
  }

  async login(username: string, password: string): Promise<void> {
    const pair = await this.api.login(username, password, this.deviceName);
    this.sessions.save({ ...pair, username });
    this.current = this.sessions.load();
    this.signedOutReason = "";
    this.users.set(pair.userId, username);
    this.start();
  }

  /** Where the browser goes to sign in with a single sign-on provider. */
  ssoStartUrl(providerId: string): string {
    return this.api.ssoStartUrl(providerId, this.deviceName);
  }

  /** Finishes a single sign-on: the ticket from the URL becomes a session. */
  async signInWithTicket(ticket: string): Promise<void> {
    const pair = await this.api.redeemSso(ticket);
    const username = pair.username ?? "";
    this.sessions.save({ ...pair, username });
    this.current = this.sessions.load();
    this.signedOutReason = "";
    this.users.set(pair.userId, username);
    this.start();
    this.notify();
  }

  /** Ends this device's session on the server and forgets it here. */
  async logout(): Promise<void> {
    const s = this.current;
    // Unsent messages are not left behind on a shared computer.
    if (s) this.storage.removeItem(`${this.namespace}.outbox.${s.userId}`);
    this.signOut("signed out");
    if (s) await this.api.logout(s.refreshToken).catch(() => undefined);
  }

  /** Starts the connection if a session is stored. Called on page load. */
  start(): void {
    if (!this.current || this.conn) return;
    this.outboxStore = new Outbox(this.storage, `${this.namespace}.outbox.${this.current.userId}`, () => this.notify());
    this.conn = new Connection(
      this.wsUrl,
      {
        accessToken: async (force) => {
          const s = await this.sessions.fresh(force);
          this.current = s;
          return s.accessToken;
        },
        online: () => void this.onOnline(),
        push: (p) => this.onPush(p),
        status: (s) => {
          this.statusValue = s;
          if (s.state === "signed_out") this.signOut(s.reason);
          this.notify();
        },
      },
      { webSocket: this.webSocket },
    );
    this.conn.start();
  }

  /** Reconnects at once (the browser says the network is back). */
  reconnectNow(): void {
    this.conn?.reconnectNow();
  }

  /** Another tab signed out (the stored session is gone): follow it. */
  checkStoredSession(): void {
    if (this.current && !this.sessions.load()) this.signOut("signed out in another tab");
  }

  /** Unread messages over all conversations (for the page title). */
  /** Unread messages of conversations that are neither muted nor archived. */
  totalUnread(): number {
    return this.conversations()
      .filter((c) => !c.muted() && !c.settings.archived)
      .reduce((n, c) => n + c.unread(this.me).count, 0);
  }

  private signOut(reason: string): void {
    const conn = this.conn;
    this.conn = null;
    conn?.stop();
    this.sessions.clear();
    this.current = null;
    this.signedOutReason = reason;
    this.outboxStore = null;
    this.convs.clear();
    this.fetchedMessages.clear();
    this.presenceMap.clear();
    this.typingMap.clear();
    this.synced = false;
    this.statusValue = { state: "signed_out", reason };
    this.notify();
  }

  // ---- actions ------------------------------------------------------------

  /**
   * Sends a message. `@name` of a member mentions them, `@all` everyone in a
   * group (the ids go with the message, for notifications and counts).
   */
  sendMessage(conversationId: string, text: string, replyToSeq = 0, threadRootSeq = 0): void {
    const message: MessageBody = { text, ...this.mentionsIn(conversationId, text) };
    if (replyToSeq) message.replyToSeq = replyToSeq;
    if (threadRootSeq) message.threadRootSeq = threadRootSeq;
    this.enqueue(conversationId, { message });
    this.typingSent.delete(conversationId);
  }

  /** The members `@name`d in `text` (and `@all` in a group). */
  mentionsIn(conversationId: string, text: string): { mentionIds?: string[]; mentionAll?: boolean } {
    const c = this.convs.get(conversationId);
    if (!c) return {};
    const byName = new Map<string, string>();
    for (const id of c.members.keys()) byName.set(this.userName(id).toLowerCase(), id);
    const ids = new Set<string>();
    let all = false;
    for (const name of mentionedNames(text)) {
      if (name === "all" && c.kind === "group") all = true;
      const id = byName.get(name);
      if (id && ids.size < 50) ids.add(id);
    }
    const out: { mentionIds?: string[]; mentionAll?: boolean } = {};
    if (ids.size) out.mentionIds = [...ids];
    if (all) out.mentionAll = true;
    return out;
  }

  /** Renames and/or describes a group (admins and the owner). */
  updateGroup(conversationId: string, update: ConversationUpdate): void {
    this.enqueue(conversationId, { update });
  }

  /** Changes a member's role (the owner only); "ROLE_OWNER" hands ownership over. */
  setRole(conversationId: string, userId: string, role: Role): void {
    this.enqueue(conversationId, { role: { userId, role } });
  }

  /** Pins a message, or unpins it if it is pinned. */
  togglePin(conversationId: string, seq: number): void {
    const unpin = this.convs.get(conversationId)?.pins.isPinned(seq) ?? false;
    this.enqueue(conversationId, { pin: { targetSeq: seq, unpin } });
  }

  /**
   * A message by seq for showing it out of the list (a pinned message):
   * the loaded one, or one fetched from history on the first call
   * (undefined until it arrives; a change notification follows).
   */
  messageAt(conversationId: string, seq: number): Event | undefined {
    const c = this.convs.get(conversationId);
    const loaded = c?.item(seq);
    if (loaded) {
      return { conversationId, seq: String(seq), senderId: loaded.senderId, message: { text: loaded.deleted ? "" : loaded.text } };
    }
    const key = `${conversationId}/${seq}`;
    if (!this.fetchedMessages.has(key) && this.conn?.online) {
      this.fetchedMessages.set(key, undefined);
      this.request("history", { conversationId, fromSeq: seq, toSeq: seq, limit: 1 })
        .then((h) => {
          this.fetchedMessages.set(key, (h.events ?? [])[0]);
          this.lookup((h.events ?? []).map((e) => e.senderId ?? ""));
          this.notify();
        })
        .catch(() => this.fetchedMessages.delete(key));
    }
    return this.fetchedMessages.get(key);
  }

  /** Adds my reaction to a message, or takes it back if I reacted so already. */
  toggleReaction(conversationId: string, seq: number, emoji: string): void {
    const c = this.convs.get(conversationId);
    const remove = c?.reactions.mine(seq, emoji, this.me) ?? false;
    this.enqueue(conversationId, { reaction: { targetSeq: seq, emoji, remove } });
  }

  editMessage(conversationId: string, seq: number, text: string): void {
    this.enqueue(conversationId, { edit: { targetSeq: seq, text, ...this.mentionsIn(conversationId, text) } });
  }

  deleteMessage(conversationId: string, seq: number): void {
    this.enqueue(conversationId, { delete: { targetSeq: seq } });
  }

  retry(clientMsgId: string): void {
    this.outboxStore?.retry(clientMsgId);
    this.pumpOutbox();
  }

  discard(clientMsgId: string): void {
    this.outboxStore?.discard(clientMsgId);
  }

  /** My pending group invitations, newest first. */
  invitations(): Invitation[] {
    return [...this.invitationMap.values()].sort((a, b) => int(b.invitedAtMs) - int(a.invitedAtMs));
  }

  /** Direct conversations that are message requests waiting for my answer. */
  requests(): ConversationModel[] {
    return this.conversations().filter((c) => c.request && c.request.fromUserId !== this.me);
  }

  /** The people I blocked, by id. */
  blocked(): string[] {
    return [...this.blockedSet];
  }

  /**
   * Answers a group invitation or a message request. Accepting opens the
   * conversation; declining a request blocks its sender (and `block` does
   * so for the inviter of a group).
   */
  async respond(conversationId: string, accept: boolean, block = false): Promise<void> {
    const r = await this.request("respond", { conversationId, accept, block });
    this.invitationMap.delete(conversationId);
    const c = this.convs.get(conversationId);
    if (c?.request && !accept) {
      this.blockedSet.add(c.request.fromUserId);
      c.left = true;
    }
    if (c) c.request = null;
    // Accepted: the reply is the conversation (declined: an empty ok).
    if (r && "id" in r) this.adopt(r as Conversation);
    this.notify();
  }

  /** Takes back an invitation to a group (admins and the owner). */
  async withdrawInvitation(conversationId: string, userId: string): Promise<void> {
    await this.request("removeMember", { conversationId, userId });
    this.convs.get(conversationId)?.invitedIds.delete(userId);
    this.notify();
  }

  /** Blocks a user: our direct conversation leaves my list, no messages, invitations or presence either way. */
  async block(userId: string): Promise<void> {
    await this.request("block", { userId });
    this.blockedSet.add(userId);
    for (const c of this.convs.values()) if (c.kind === "direct" && this.dmPartner(c) === userId) c.left = true;
    this.presenceMap.delete(userId);
    this.notify();
  }

  async unblock(userId: string): Promise<void> {
    await this.request("unblock", { userId });
    this.blockedSet.delete(userId);
    for (const c of this.convs.values()) if (c.kind === "direct" && this.dmPartner(c) === userId) c.left = false;
    void this.refreshPresence();
    this.notify();
  }

  /** Opens (or creates) the DM with a user; returns the conversation id. */
  async startDirect(username: string): Promise<string> {
    const user = await this.userByName(username);
    return this.adopt(await this.request("createDirect", { userId: user.id }));
  }

  /** Creates a group with me as owner; returns its id. */
  async createGroup(title: string, usernames: string[]): Promise<string> {
    const ids = await this.userIds(usernames);
    return this.adopt(await this.request("createGroup", { title, memberIds: ids }));
  }

  async addMembers(conversationId: string, usernames: string[]): Promise<void> {
    const ids = await this.userIds(usernames);
    await this.request("addMembers", { conversationId, userIds: ids, role: "ROLE_MEMBER" });
    await this.refreshMembers(conversationId);
  }

  async leave(conversationId: string): Promise<void> {
    await this.request("removeMember", { conversationId, userId: this.me });
    const c = this.convs.get(conversationId);
    if (c) c.left = true;
    this.notify();
  }

  /** Forwards a message to another of my conversations (a copy as it reads now, marked with its author). */
  async forward(fromConversationId: string, seq: number, toConversationId: string): Promise<void> {
    await this.request("forward", { fromConversationId, seq: String(seq), toConversationId, clientMsgId: newClientMsgId() });
  }

  /** Full-text search of my conversations, best hits first. */
  async search(req: SearchRequest): Promise<SearchHit[]> {
    const r = await this.request("search", req);
    this.lookup((r.hits ?? []).map((h) => h.senderId ?? ""));
    return r.hits ?? [];
  }

  /** Loads older pages of a conversation until `seq` is loaded (a search hit to show); false if it cannot be. */
  async loadUntil(conversationId: string, seq: number, maxPages = 40): Promise<boolean> {
    const c = this.convs.get(conversationId);
    if (!c) return false;
    for (let i = 0; i < maxPages; i++) {
      if (c.timeline && c.oldestLoaded <= seq) return true;
      if (!c.timeline) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      if (!c.hasOlder) return c.oldestLoaded <= seq;
      await this.loadOlder(conversationId);
    }
    return !!c.timeline && c.oldestLoaded <= seq;
  }

  /** Loads the newest replies of the thread under `root` (its panel opening). */
  async loadThread(conversationId: string, root: number): Promise<void> {
    const c = this.convs.get(conversationId);
    if (!c) return;
    const h = await this.request("history", { conversationId, threadRootSeq: root, fromSeq: root + 1, limit: 200, backward: true });
    for (const e of h.events ?? []) c.apply(e);
    c.applyHistoryReactions(h);
    this.lookup((h.events ?? []).map((e) => e.senderId ?? ""));
    this.notify();
  }

  /** Marks the thread under `root` read up to its newest reply known here (its own mark: no receipt). */
  markThreadRead(conversationId: string, root: number): void {
    const c = this.convs.get(conversationId);
    const view = c?.threads.of(root, this.me);
    if (!c || !view || view.unread === 0) return;
    const seq = view.lastReplySeq;
    c.threads.markRead(root, seq);
    this.notify();
    this.request("markRead", { conversationId, seq, threadRootSeq: root }).catch(() => undefined);
  }

  /** Loads a page of older messages (scrolling up); a failure is retried on the next scroll. */
  async loadOlder(conversationId: string): Promise<void> {
    const c = this.convs.get(conversationId);
    if (!c || !c.hasOlder || c.loadingOlder || !this.conn?.online) return;
    c.loadingOlder = true;
    this.notify();
    try {
      const h = await this.request("history", {
        conversationId,
        fromSeq: 1,
        toSeq: c.oldestLoaded - 1,
        limit: PAGE,
        backward: true,
      });
      for (const e of h.events ?? []) c.apply(e);
      c.applyHistoryReactions(h);
      this.lookup((h.events ?? []).map((e) => e.senderId ?? ""));
      c.oldestLoaded = Math.min(c.oldestLoaded, int(h.coveredFrom) || c.oldestLoaded);
    } catch {
      // Offline or timed out: the user scrolls again once reconnected.
    } finally {
      c.loadingOlder = false;
      this.notify();
    }
  }

  /** Marks everything delivered in a conversation as read (call while it is on screen). */
  markRead(conversationId: string): void {
    const c = this.convs.get(conversationId);
    // Opening a conversation I marked unread takes the mark away.
    if (c?.settings.markedUnread && this.conn?.online) {
      this.updateSettings(conversationId, { markedUnread: false }).catch(() => undefined);
    }
    if (!c || !this.conn?.online || c.delivered <= c.readSeq) return;
    // One request in flight per conversation: a burst of messages read as
    // they arrive becomes a few receipts, not one per message.
    if (this.marking.has(conversationId)) return;
    this.marking.add(conversationId);
    const seq = c.delivered;
    c.readSeq = seq;
    this.notify();
    this.request("markRead", { conversationId, seq })
      .then(
        (r) => {
          c.readSeq = Math.max(c.readSeq, int(r.readSeq));
        },
        () => undefined,
      )
      .finally(() => {
        this.marking.delete(conversationId);
        this.notify();
      });
  }

  /** Tells the others I am typing (throttled; call on every keystroke). */
  typing(conversationId: string): void {
    const now = Date.now();
    if (now - (this.typingSent.get(conversationId) ?? 0) < TYPING_EVERY_MS || !this.conn?.online) return;
    this.typingSent.set(conversationId, now);
    this.request("typing", { conversationId }).catch(() => undefined);
  }

  /** Fetches a group's members (and their presence) if not loaded yet. */
  ensureMembers(conversationId: string): void {
    const c = this.convs.get(conversationId);
    if (c && c.kind === "group" && !c.membersLoaded && this.conn?.online) {
      c.membersLoaded = true;
      void this.refreshMembers(conversationId).then((ok) => {
        if (!ok) c.membersLoaded = false;
      });
    }
  }

  // ---- internals ----------------------------------------------------------

  private request: Connection["request"] = (name, body, timeoutMs) => {
    if (!this.conn) return Promise.reject(new ParleyError("not_connected", "not signed in"));
    return this.conn.request(name, body, timeoutMs);
  };

  private enqueue(conversationId: string, body: SendBody): void {
    this.outboxStore?.add(conversationId, body);
    this.pumpOutbox();
  }

  private pumpOutbox(): void {
    const outbox = this.outboxStore;
    const conn = this.conn;
    if (!outbox || !conn) return;
    void outbox.pump(
      (item) => this.request("send", { conversationId: item.conversationId, clientMsgId: item.clientMsgId, ...item.body }),
      () => conn.online && this.conn === conn,
    );
  }

  private async onOnline(): Promise<void> {
    const conn = this.conn;
    try {
      // The first screen of the list as shown comes first (one page in
      // activity order), so the list renders before the rest arrives; if
      // there is more, every conversation follows in pages (bounded in
      // count and bytes) in id order, which stays complete while
      // conversations change places.
      let current = true;
      const apply = (states: ConversationState[]) => {
        if (this.conn !== conn) return (current = false);
        for (const st of states) {
          const c = this.model(st.conversation.id);
          c.applyMeta(st.conversation, st.conversation.kind === "CONVERSATION_KIND_DIRECT");
          c.headSeq = Math.max(c.headSeq, int(st.headSeq));
          c.readSeq = Math.max(c.readSeq, int(st.readSeq));
          c.applyState(st);
          this.lookup((st.conversation.members ?? []).map((m) => m.userId));
          void this.catchUp(c);
        }
        return true;
      };
      const screen = await this.request("sync", { order: "SYNC_ORDER_ACTIVITY", limit: FIRST_SCREEN });
      apply(screen.conversations ?? []);
      if (!current) return;
      if (screen.hasMore) {
        this.notify();
        await eachPage(
          "",
          (after) => this.request("sync", { after }),
          (reply) => apply(reply.conversations ?? []),
        );
      }
      if (!current) return;
      await this.loadConsent();
      this.synced = true;
      this.notify();
      this.pumpOutbox();
      await this.refreshPresence();
      for (const c of this.convs.values()) if (c.kind === "group" && c.membersLoaded) void this.refreshMembers(c.id);
    } catch {
      // The connection dropped meanwhile: the next connect syncs again.
    }
  }

  /** My invitations and blocks, as the server has them now. */
  private async loadConsent(): Promise<void> {
    const [inv, blocked] = await Promise.all([this.request("listInvitations", {}), this.request("listBlocked", {})]);
    this.invitationMap.clear();
    for (const i of inv.invitations ?? []) if (i.conversation) this.invitationMap.set(i.conversation.id, i);
    this.blockedSet.clear();
    for (const u of blocked.userIds ?? []) this.blockedSet.add(u);
    this.lookup([...this.invitations().map((i) => i.invitedBy), ...this.blockedSet]);
  }

  private model(id: string): ConversationModel {
    let c = this.convs.get(id);
    if (!c) {
      c = new ConversationModel(id);
      this.convs.set(id, c);
    }
    return c;
  }

  /** Records a conversation I just created or opened; returns its id. */
  private adopt(conv: Conversation): string {
    const c = this.model(conv.id);
    c.applyMeta(conv, true);
    c.left = false;
    this.lookup((conv.members ?? []).map((m) => m.userId));
    void this.catchUp(c);
    void this.refreshPresence();
    this.notify();
    return conv.id;
  }

  /**
   * Brings a conversation up to its head: the first time, the newest page
   * (older ones load on scroll); afterwards, everything after what was
   * delivered, page by page.
   */
  private async catchUp(c: ConversationModel): Promise<void> {
    if (c.fetching) return;
    c.fetching = true;
    try {
      if (!c.timeline) {
        const h = await this.request("history", { conversationId: c.id, fromSeq: 1, limit: PAGE, backward: true });
        const from = int(h.coveredFrom) || 1;
        c.timeline = new Timeline(from - 1);
        c.oldestLoaded = from;
        c.headSeq = Math.max(c.headSeq, int(h.headSeq));
        c.applyHistoryReactions(h);
        this.deliver(c, c.timeline.applyHistory(h.events, h.skipped, h.visibleFrom));
        const early = c.early;
        c.early = [];
        for (const e of early) this.deliver(c, c.timeline.push(e));
      }
      for (let guard = 0; guard < 1000; guard++) {
        const t = c.timeline;
        const gap = t.gap();
        const to = gap ? gap[1] : c.headSeq;
        if (t.delivered >= to) break;
        const h = await this.request("history", { conversationId: c.id, fromSeq: t.delivered + 1, toSeq: to, limit: 500 });
        c.headSeq = Math.max(c.headSeq, int(h.headSeq));
        const before = t.delivered;
        c.applyHistoryReactions(h);
        this.deliver(c, t.applyHistory(h.events, h.skipped, h.visibleFrom));
        if (t.delivered === before) break;
      }
    } catch (e) {
      if (e instanceof ParleyError && e.code === "not_found") c.left = true;
      // Otherwise the connection dropped: the next connect catches up again.
    } finally {
      c.fetching = false;
      this.notify();
    }
  }

  /** Folds events that came out of a timeline, in order. */
  private deliver(c: ConversationModel, events: Event[]): void {
    let membership = false;
    const asked = c.request !== null;
    for (const e of events) {
      membership = c.apply(e) || membership;
      if (e.senderId === this.me && e.clientMsgId) this.outboxStore?.delivered(c.id, e.clientMsgId);
      if (e.senderId) this.typingMap.get(c.id)?.delete(e.senderId);
      if (e.memberRemoved?.userId === this.me) c.left = true;
      if (e.membersAdded?.userIds?.includes(this.me)) {
        c.left = false;
        // The server starts a new member's read watermark at the join: what
        // came before is history, not unread.
        c.readSeq = Math.max(c.readSeq, int(e.seq));
      }
    }
    this.lookup(events.map((e) => e.senderId ?? ""));
    if (membership && c.kind === "group" && !c.left) void this.refreshMembers(c.id);
    // An accepted request makes the two contacts: they see each other online.
    if (asked && c.request === null) void this.refreshPresence();
    if (events.length) this.notify();
  }

  private onPush(p: Push): void {
    if (p.event) {
      const e = p.event;
      const c = this.model(e.conversationId);
      c.headSeq = Math.max(c.headSeq, int(e.seq));
      if (!c.timeline) {
        // Seen for the first time (just added, or created by someone else).
        c.early.push(e);
        if (c.early.length === 1 && !c.fetching) void this.fetchMeta(c).then(() => this.catchUp(c));
        return;
      }
      this.deliver(c, c.timeline.push(e));
      // Live pushes of one conversation can overtake each other (several
      // fanout workers): give the missing ones GAP_GRACE_MS to arrive
      // before pulling them from history.
      if (c.timeline.gap() && !c.gapTimer) {
        c.gapTimer = setTimeout(() => {
          c.gapTimer = null;
          if (c.timeline?.gap()) void this.catchUp(c);
        }, GAP_GRACE_MS);
      }
    } else if (p.invited) {
      const conv = p.invited.conversation;
      if (conv && !this.convs.get(conv.id)?.timeline) {
        this.invitationMap.set(conv.id, p.invited);
        this.lookup([p.invited.invitedBy]);
        this.notify();
      }
    } else if (p.invitationGone) {
      this.invitationMap.delete(p.invitationGone.conversationId);
      this.notify();
    } else if (p.settingsChanged) {
      const c = this.convs.get(p.settingsChanged.conversationId);
      if (c && p.settingsChanged.settings) {
        c.applySettings(p.settingsChanged.settings);
        this.notify();
      }
    } else if (p.receipt) {
      const c = this.convs.get(p.receipt.conversationId);
      if (!c) return;
      const seq = int(p.receipt.readSeq);
      if (p.receipt.userId === this.me) c.readSeq = Math.max(c.readSeq, seq);
      else {
        const m = c.members.get(p.receipt.userId);
        if (m) m.readSeq = Math.max(m.readSeq, seq);
      }
      this.notify();
    } else if (p.typing) {
      if (p.typing.userId === this.me) return;
      let m = this.typingMap.get(p.typing.conversationId);
      if (!m) this.typingMap.set(p.typing.conversationId, (m = new Map()));
      m.set(p.typing.userId, Date.now() + TYPING_SHOWN_MS);
      this.scheduleTypingExpiry();
      this.notify();
    } else if (p.presenceChanged) {
      this.presenceMap.set(p.presenceChanged.userId, {
        online: !!p.presenceChanged.online,
        lastSeenMs: int(p.presenceChanged.lastSeenMs),
      });
      this.notify();
    }
    // goodbye: the close that follows drives the reconnect.
  }

  private async fetchMeta(c: ConversationModel): Promise<void> {
    try {
      const conv = await this.request("getConversation", { conversationId: c.id });
      c.applyMeta(conv, true);
      this.lookup((conv.members ?? []).map((m) => m.userId));
      void this.refreshPresence();
    } catch {
      // Reloaded on the next sync.
    }
  }

  /** Reloads a conversation's members; never throws (a failure leaves the old list). */
  private async refreshMembers(conversationId: string): Promise<boolean> {
    let conv: Conversation;
    try {
      conv = await this.request("getConversation", { conversationId });
    } catch (e) {
      // Not a member any more: the conversation is gone for me.
      if (e instanceof ParleyError && e.code === "not_found") this.model(conversationId).left = true;
      this.notify();
      return false;
    }
    try {
      conv = { ...conv, members: await this.allMembers(conv) };
    } catch {
      // Keep the first page; the next refresh tries again.
    }
    const c = this.model(conversationId);
    c.applyMeta(conv, true);
    this.lookup((conv.members ?? []).map((m) => m.userId));
    await this.refreshPresence();
    this.notify();
    return true;
  }

  /** Every member of a conversation (`paging.allMembers`). */
  private allMembers(conv: Conversation): Promise<Member[]> {
    return allMembers(conv, (after) => this.request("listMembers", { conversationId: conv.id, after }));
  }

  /** Presence of everyone I know from DMs and loaded groups. */
  private async refreshPresence(): Promise<void> {
    const ids = new Set<string>();
    for (const c of this.convs.values()) {
      if (c.kind === "direct" || c.membersLoaded) for (const id of c.members.keys()) ids.add(id);
    }
    const all = [...ids];
    for (let i = 0; i < all.length; i += BATCH) {
      const r = await this.request("queryPresence", { userIds: all.slice(i, i + BATCH) }).catch(() => null);
      for (const u of r?.users ?? []) {
        this.presenceMap.set(u.userId, { online: !!u.online, lastSeenMs: int(u.lastSeenMs) });
      }
    }
    this.notify();
  }

  /** Fetches the names of users not known yet (batched, once each). */
  private lookup(ids: string[]): void {
    const missing = [...new Set(ids)].filter((id) => id && !this.users.has(id) && !this.lookingUp.has(id));
    if (!missing.length || !this.conn?.online) return;
    for (const id of missing) this.lookingUp.add(id);
    for (let i = 0; i < missing.length; i += BATCH) {
      const batch = missing.slice(i, i + BATCH);
      this.request("lookupUsers", { userIds: batch }).then(
        (r) => {
          this.learn(r.users ?? []);
          for (const id of batch) this.lookingUp.delete(id);
          this.notify();
        },
        () => {
          for (const id of batch) this.lookingUp.delete(id);
        },
      );
    }
  }

  private async userByName(username: string): Promise<User> {
    const name = username.trim().toLowerCase();
    const r = await this.request("lookupUsers", { usernames: [name] });
    const u = (r.users ?? [])[0];
    if (!u) throw new ParleyError("not_found", `no user called "${name}"`);
    this.learn([u]);
    return u;
  }

  private async userIds(usernames: string[]): Promise<string[]> {
    const names = [...new Set(usernames.map((n) => n.trim().toLowerCase()).filter(Boolean))];
    if (!names.length) return [];
    const r = await this.request("lookupUsers", { usernames: names });
    const found = new Map((r.users ?? []).map((u) => [u.username, u.id]));
    const unknown = names.filter((n) => !found.has(n));
    if (unknown.length) throw new ParleyError("not_found", `no user called ${unknown.map((n) => `"${n}"`).join(", ")}`);
    for (const [name, id] of found) this.users.set(id, name);
    return names.map((n) => found.get(n)!);
  }

  private scheduleTypingExpiry(): void {
    if (this.typingTimer) return;
    this.typingTimer = setTimeout(() => {
      this.typingTimer = null;
      const now = Date.now();
      let any = false;
      for (const m of this.typingMap.values()) {
        for (const [id, until] of m) {
          if (until <= now) m.delete(id);
          else any = true;
        }
      }
      this.notify();
      if (any) this.scheduleTypingExpiry();
    }, 1_000);
  }

  private notify(): void {
    if (this.notifyQueued) return;
    this.notifyQueued = true;
    queueMicrotask(() => {
      this.notifyQueued = false;
      for (const l of this.listeners) l();
    });
  }
}

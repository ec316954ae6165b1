// Parley client protocol v1, JSON encoding (subprotocol "parley.v1.json").
// These types follow proto/parley/v1/{client,common}.proto in the proto3 JSON
// mapping: lowerCamelCase names, 64-bit integers as strings, enums by name,
// default values omitted. docs/protocol.md is the reference.

/** A 64-bit integer as it appears on the wire (the server sends strings). */
export type Int64 = string | number;

/** Parses a wire int64 (seqs and millisecond times fit a JS number). */
export function int(v: Int64 | undefined | null): number {
  if (v === undefined || v === null || v === "") return 0;
  const n = typeof v === "number" ? v : Number(v);
  return Number.isFinite(n) ? n : 0;
}

export type Role = "ROLE_UNSPECIFIED" | "ROLE_MEMBER" | "ROLE_ADMIN" | "ROLE_OWNER";
export type ConversationKind =
  | "CONVERSATION_KIND_UNSPECIFIED"
  | "CONVERSATION_KIND_DIRECT"
  | "CONVERSATION_KIND_GROUP";

export interface Member {
  userId: string;
  role?: Role;
  readSeq?: Int64;
}

export interface Conversation {
  id: string;
  kind?: ConversationKind;
  title?: string;
  createdAtMs?: Int64;
  createdBy?: string;
  /** The first page of members (sorted by user id); all of them when
   * `memberCount` is not larger. The rest come from `listMembers`. */
  members?: Member[];
  memberCount?: number;
  /** Pinned messages, oldest pin first, as of `pinsSeq` (apply later pin events on top). */
  pins?: Pin[];
  pinsSeq?: Int64;
  /** What the group is about. */
  description?: string;
  /** Whether members added later see the history from before they joined. */
  historyVisibility?: HistoryVisibility;
  /** People invited who have not answered (groups; the first 200). */
  invitedIds?: string[];
  /** Set while a direct conversation is a message request. */
  request?: DirectRequest;
}

/** A direct conversation someone started who shared no conversation with the other. */
export interface DirectRequest {
  fromUserId: string;
  atMs?: Int64;
}

/** A pending invitation to a group, as the invitee sees it. */
export interface Invitation {
  /** The group's metadata (no members). */
  conversation: Conversation;
  invitedBy: string;
  role?: Role;
  invitedAtMs?: Int64;
  seq?: Int64;
}

export type HistoryVisibility = "HISTORY_VISIBILITY_UNSPECIFIED" | "HISTORY_VISIBILITY_ALL" | "HISTORY_VISIBILITY_SINCE_JOINED";

/** Renames and/or describes a group (admins and the owner); a field left out stays. */
export interface ConversationUpdate {
  title?: string;
  description?: string;
  historyVisibility?: HistoryVisibility;
}

/** A member's new role (the owner only); ROLE_OWNER hands ownership over. */
export interface RoleChange {
  userId: string;
  role: Role;
}

export interface Pin {
  targetSeq?: Int64;
  pinnedBy?: string;
  seq?: Int64;
}

/** Pins a message to its conversation (any member), or with `unpin` takes the pin away. */
export interface PinBody {
  targetSeq?: Int64;
  unpin?: boolean;
}

/** One page of a conversation's members, sorted by user id. */
export interface MembersPage {
  conversationId: string;
  members?: Member[];
  hasMore?: boolean;
  nextAfter?: string;
}

export interface MessageBody {
  text?: string;
  replyToSeq?: Int64;
  /** Members the message mentions (ids), checked by the server. */
  mentionIds?: string[];
  /** @all (groups only). */
  mentionAll?: boolean;
  /** A reply in the thread of the message at this seq. */
  threadRootSeq?: Int64;
  /** Set by the server on a forwarded message: the original's author and time. */
  forwarded?: { senderId: string; sentAtMs?: Int64 };
}

/** A thread under a message, as of a history reply's head seq. */
export interface ThreadSummary {
  rootSeq?: Int64;
  replyCount?: number;
  lastReplySeq?: Int64;
  lastReplyAtMs?: Int64;
  participantIds?: string[];
  /** My read mark in the thread, and the replies from others above it. */
  readSeq?: Int64;
  unreadCount?: number;
}
export interface EditBody {
  targetSeq?: Int64;
  text?: string;
  mentionIds?: string[];
  mentionAll?: boolean;
}
export interface DeleteBody {
  targetSeq?: Int64;
}
/** Adds (or with `remove`, takes back) my reaction to a message. */
export interface ReactionBody {
  targetSeq?: Int64;
  /** One Unicode emoji or its shortcode (":thumbsup:"); sent back fully qualified. */
  emoji: string;
  remove?: boolean;
}
/** A message's reactions with one emoji, as of a history reply's head seq. */
export interface ReactionSummary {
  targetSeq?: Int64;
  emoji: string;
  count?: number;
  /** The first 20 reactors, in order. */
  userIds?: string[];
}

export interface Event {
  conversationId: string;
  seq: Int64;
  senderId?: string;
  clientMsgId?: string;
  sentAtMs?: Int64;
  message?: MessageBody;
  edit?: EditBody;
  delete?: DeleteBody;
  reaction?: ReactionBody;
  pin?: PinBody;
  updated?: ConversationUpdate;
  rolesChanged?: { changes?: RoleChange[] };
  membersAdded?: { userIds?: string[]; role?: Role };
  memberRemoved?: { userId?: string };
  created?: { kind?: ConversationKind; title?: string; memberIds?: string[] };
  membersInvited?: { userIds?: string[]; role?: Role };
  /** An invitation ended without joining: declined by the invitee (the sender) or withdrawn. */
  invitationClosed?: { userId?: string; declined?: boolean };
  /** The message request of this direct conversation was accepted by the event's sender. */
  requestAccepted?: { fromUserId?: string };
  /** What is left of a deleted message (or, with `edit`, of an edit of one): its content is gone from the server. */
  redacted?: { deleteSeq?: Int64; edit?: boolean; threadRootSeq?: Int64 };
}

/** What a client may append to a conversation: exactly one body. */
export type SendBody =
  | { message: MessageBody }
  | { edit: EditBody }
  | { delete: DeleteBody }
  | { reaction: ReactionBody }
  | { pin: PinBody }
  | { update: ConversationUpdate }
  | { role: RoleChange };

export type Send = { conversationId: string; clientMsgId: string } & SendBody;

export interface HistoryRequest {
  conversationId: string;
  fromSeq?: Int64;
  toSeq?: Int64;
  limit?: number;
  backward?: boolean;
  /** Only the replies in the thread of the message at this seq. */
  threadRootSeq?: Int64;
}

export interface HistoryReply {
  conversationId: string;
  events?: Event[];
  skipped?: Int64[];
  coveredFrom?: Int64;
  coveredTo?: Int64;
  headSeq?: Int64;
  hasMore?: boolean;
  /** Reactions of the returned messages as of headSeq. */
  reactions?: ReactionSummary[];
  /** Threads under the returned messages as of headSeq. */
  threads?: ThreadSummary[];
  /** The first seq I may read (later than 1 in a group that shows new members only what came after they joined). */
  visibleFrom?: Int64;
}

export interface ConversationState {
  conversation: Conversation;
  headSeq?: Int64;
  readSeq?: Int64;
  /** My own settings of the conversation. */
  settings?: ConversationSettings;
  /** Messages from others above readSeq (up to 500 events scanned: unreadCapped). */
  unreadCount?: number;
  mentionCount?: number;
  unreadCapped?: boolean;
  /** The newest message, for the conversation list. */
  lastMessage?: Event;
  /** The newest message's sentAtMs (or the newest event's when none of the newest 50 is a message). */
  lastActivityMs?: Int64;
}

/** My private settings of a conversation. */
export interface ConversationSettings {
  /** Muted until this time (ms); 0 not muted, -1 forever. */
  mutedUntilMs?: Int64;
  archived?: boolean;
  /** Pinned to the top since this time (ms); 0 not pinned. */
  pinnedAtMs?: Int64;
  markedUnread?: boolean;
  /** History I cleared up to this seq ("delete chat for me"); never lowered by the server. */
  clearedSeq?: Int64;
}

export interface User {
  id: string;
  username: string;
  /** What the person wants to be called; absent: the username. */
  displayName?: string;
  statusText?: string;
}

export interface PresenceInfo {
  userId: string;
  online?: boolean;
  lastSeenMs?: Int64;
}

export interface ErrorPayload {
  code: string;
  message?: string;
  retryAfterMs?: number;
}

export interface SendAck {
  conversationId: string;
  seq: Int64;
  clientMsgId: string;
  sentAtMs?: Int64;
  duplicate?: boolean;
}

/** Full-text search of my conversations (every word required). */
export interface SearchRequest {
  query: string;
  conversationId?: string;
  senderId?: string;
  fromMs?: Int64;
  toMs?: Int64;
  limit?: number;
}

export interface SearchHit {
  conversationId: string;
  seq: Int64;
  senderId?: string;
  sentAtMs?: Int64;
  /** The text around the matches, and the byte ranges (UTF-8) of the matched words in it. */
  fragment?: string;
  highlights?: { start?: number; end?: number }[];
  score?: number;
}

/** Requests: a ClientFrame carries an id plus exactly one of these. */
export interface Requests {
  authenticate: { accessToken: string };
  createDirect: { userId: string };
  createGroup: { title: string; memberIds: string[] };
  addMembers: { conversationId: string; userIds: string[]; role?: Role };
  removeMember: { conversationId: string; userId: string };
  send: Send;
  sync: {
    after?: string;
    limit?: number;
    /** SYNC_ORDER_ID (default: stable, to keep the whole list) or SYNC_ORDER_ACTIVITY (the list as shown). */
    order?: "SYNC_ORDER_ID" | "SYNC_ORDER_ACTIVITY";
    /** SYNC_FILTER_ALL (default), SYNC_FILTER_INBOX (not archived), SYNC_FILTER_ARCHIVED. */
    filter?: "SYNC_FILTER_ALL" | "SYNC_FILTER_INBOX" | "SYNC_FILTER_ARCHIVED";
  };
  history: HistoryRequest;
  markRead: { conversationId: string; seq: Int64; threadRootSeq?: Int64 };
  typing: { conversationId: string };
  getConversation: { conversationId: string };
  listMembers: { conversationId: string; after?: string; limit?: number };
  lookupUsers: { usernames?: string[]; userIds?: string[] };
  queryPresence: { userIds: string[] };
  ping: { nonce: Int64 };
  updateSettings: { conversationId: string; settings: ConversationSettings };
  block: { userId: string };
  unblock: { userId: string };
  listBlocked: Record<string, never>;
  listInvitations: Record<string, never>;
  respond: { conversationId: string; accept: boolean; block?: boolean };
  forward: { fromConversationId: string; seq: Int64; toConversationId: string; clientMsgId: string };
  search: SearchRequest;
}

/** The reply payload each request gets (or an `error`). */
export interface Replies {
  authenticate: {
    authenticated: { userId: string; sessionId: string; expiresAtMs?: Int64; rateLimitPerSec?: number };
  };
  createDirect: { conversation: Conversation };
  createGroup: { conversation: Conversation };
  addMembers: { ack: SendAck };
  removeMember: { ack: SendAck };
  send: { ack: SendAck };
  sync: { sync: { conversations?: ConversationState[]; hasMore?: boolean; nextAfter?: string } };
  history: { history: HistoryReply };
  markRead: { read: { conversationId: string; readSeq?: Int64 } };
  typing: { ok: Record<string, never> };
  getConversation: { conversation: Conversation };
  listMembers: { members: MembersPage };
  lookupUsers: { users: { users?: User[] } };
  queryPresence: { presence: { users?: PresenceInfo[] } };
  ping: { pong: { nonce?: Int64 } };
  updateSettings: { settings: { conversationId: string; settings?: ConversationSettings } };
  block: { ok: Record<string, never> };
  unblock: { ok: Record<string, never> };
  listBlocked: { blocked: { userIds?: string[] } };
  listInvitations: { invitations: { invitations?: Invitation[] } };
  /** A conversation when accepted; ok when declined. */
  respond: { conversation?: Conversation; ok?: Record<string, never> };
  forward: { ack: SendAck };
  search: { search: { hits?: SearchHit[] } };
}

export type RequestName = keyof Requests;

/** Server pushes (frames with an empty id). */
export interface Push {
  event?: Event;
  typing?: { conversationId: string; userId: string };
  presenceChanged?: PresenceInfo;
  receipt?: { conversationId: string; userId: string; readSeq?: Int64 };
  goodbye?: { reason?: string };
  /** My own settings of a conversation changed (on any of my devices). */
  settingsChanged?: { conversationId: string; settings?: ConversationSettings };
  /** I was invited to a group. */
  invited?: Invitation;
  /** An invitation of mine was answered (on any of my devices) or withdrawn. */
  invitationGone?: { conversationId: string; accepted?: boolean };
}

export interface ServerFrame extends Push {
  id?: string;
  error?: ErrorPayload;
  [payload: string]: unknown;
}

/** Close codes of docs/protocol.md section 9. */
export const CloseCode = {
  Normal: 1000,
  TooBig: 1009,
  Shutdown: 1012,
  Resync: 4001,
  Idle: 4002,
  Unauthenticated: 4401,
  Revoked: 4403,
  AuthTimeout: 4408,
  TooManyConnections: 4409,
  RateLimited: 4429,
} as const;

export const SUBPROTOCOL_JSON = "parley.v1.json";

/** Request error codes after which the same request may succeed later. */
export function isRetryable(code: string): boolean {
  return code === "unavailable" || code === "rate_limited" || code === "internal" || code === "connection_lost" || code === "timeout" || code === "not_connected";
}

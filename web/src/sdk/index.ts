// Parley's TypeScript client SDK: the protocol, a reconnecting connection,
// per-conversation ordering with gap pulls, a persistent outbox, and a chat
// model a UI renders from. See docs/protocol.md for the wire protocol.

export { ParleyClient, PAGE, type ClientOptions, type Presence } from "./client";
export { Connection, type ConnectionStatus, type ConnectionHooks, type ConnectionOptions } from "./connection";
export { ConversationModel, type Item, type MemberState, type ConversationKind } from "./conversation";
export { ParleyError } from "./errors";
export { mentionBeingTyped, mentionName, mentionedNames, splitMentions } from "./mentions";
export { PinBook, type Pinned } from "./pins";
export { ReactionBook, type ReactionCount } from "./reactions";
export { ThreadBook, type ThreadView } from "./threads";
export { highlightPieces, type Piece } from "./highlight";
export { AuthApi, type SsoProvider, type TokenPair } from "./http";
export { AccountApi, type Account, type AccountRole, type AuditEntry, type Invite, type RegistrationMode, type SessionInfo } from "./account";
export { Outbox, newClientMsgId, type OutboxItem, type OutboxState } from "./outbox";
export { SessionStore, type KeyValueStore, type Session } from "./session";
export { Timeline } from "./timeline";
export * from "./protocol";

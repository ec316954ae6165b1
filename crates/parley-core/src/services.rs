//! The four request/response service APIs. Their request and reply types
//! are the protobuf messages of proto/parley/v1, so a local call and a gRPC
//! call carry exactly the same data.

use parley_proto::v1 as pb;

crate::rpc_service! {
    /// Conversations, members, timelines, seqs, dedup and read watermarks.
    api StorageApi, client StorageClient, server StorageGrpc;
    grpc storage_client::StorageClient, storage_server::Storage / StorageServer;
    fn create_conversation(pb::CreateConversationRequest) -> pb::Conversation;
    fn get_conversation(pb::ConversationRequest) -> pb::Conversation;
    fn add_members(pb::AddMembersRequest) -> pb::AppendReply;
    fn remove_member(pb::RemoveMemberRequest) -> pb::AppendReply;
    fn append(pb::AppendRequest) -> pb::AppendReply;
    fn history(pb::UserHistoryRequest) -> pb::HistoryReply;
    fn sync(pb::SyncPageRequest) -> pb::SyncReply;
    fn mark_read(pb::MarkReadRequest) -> pb::ReadState;
    fn list_members(pb::MembersRequest) -> pb::MembersPage;
    fn contacts(pb::CallerRequest) -> pb::ContactsReply;
    fn member_ids(pb::MembersRequest) -> pb::MemberIdsReply;
    fn update_settings(pb::SettingsRequest) -> pb::SettingsReply;
    fn block(pb::BlockRequest) -> pb::Empty;
    fn list_blocked(pb::CallerRequest) -> pb::BlockedReply;
    fn relations(pb::RelationsRequest) -> pb::RelationsReply;
    fn invitations(pb::CallerRequest) -> pb::InvitationsReply;
    fn respond(pb::RespondRequest) -> pb::RespondReply;
    fn message(pb::MessageRequest) -> pb::Event;
    fn search(pb::UserSearchRequest) -> pb::SearchReply;
}

crate::rpc_service! {
    /// Accounts, device sessions, access and refresh tokens, signing keys.
    api AuthApi, client AuthClient, server AuthGrpc;
    grpc auth_client::AuthClient, auth_server::Auth / AuthServer;
    fn register(pb::Credentials) -> pb::User;
    fn login(pb::LoginRequest) -> pb::TokenPair;
    fn refresh(pb::RefreshRequest) -> pb::TokenPair;
    fn logout(pb::RefreshRequest) -> pb::Empty;
    fn jwks(pb::Empty) -> pb::JwksReply;
    fn lookup_users(pb::LookupUsersRequest) -> pb::UsersList;
    fn revoked_sessions(pb::RevokedSince) -> pb::RevokedSessionList;
    fn registration(pb::Empty) -> pb::RegistrationSettings;
    fn oidc_providers(pb::Empty) -> pb::OidcProviderList;
    fn oidc_start(pb::OidcStartRequest) -> pb::OidcStartReply;
    fn oidc_finish(pb::OidcFinishRequest) -> pb::OidcTicket;
    fn oidc_redeem(pb::OidcTicket) -> pb::TokenPair;
    fn get_account(pb::AccountRef) -> pb::Account;
    fn list_sessions(pb::AccountRef) -> pb::SessionList;
    fn end_sessions(pb::EndSessionsRequest) -> pb::Empty;
    fn change_password(pb::ChangePasswordRequest) -> pb::Empty;
    fn update_profile(pb::UpdateProfileRequest) -> pb::Account;
    fn admin_list_accounts(pb::AdminListAccountsRequest) -> pb::AccountList;
    fn admin_get_account(pb::AdminTarget) -> pb::AccountDetail;
    fn admin_create_account(pb::AdminCreateAccountRequest) -> pb::Account;
    fn admin_set_active(pb::AdminSetActiveRequest) -> pb::Account;
    fn admin_set_role(pb::AdminSetRoleRequest) -> pb::Account;
    fn admin_reset_password(pb::AdminResetPasswordRequest) -> pb::Empty;
    fn admin_end_sessions(pb::AdminEndSessionsRequest) -> pb::Empty;
    fn admin_get_registration(pb::AdminActor) -> pb::RegistrationSettings;
    fn admin_set_registration(pb::AdminSetRegistrationRequest) -> pb::RegistrationSettings;
    fn admin_create_invite(pb::AdminCreateInviteRequest) -> pb::InviteCreated;
    fn admin_list_invites(pb::AdminActor) -> pb::InviteList;
    fn admin_revoke_invite(pb::AdminRevokeInviteRequest) -> pb::Empty;
    fn admin_audit_log(pb::AdminAuditRequest) -> pb::AuditPage;
}

crate::rpc_service! {
    /// Who is online on how many connections, and when they were last seen.
    api PresenceApi, client PresenceClient, server PresenceGrpc;
    grpc presence_client::PresenceClient, presence_server::Presence / PresenceServer;
    fn attach(pb::PresenceSession) -> pb::PresenceUpdate;
    fn heartbeat(pb::PresenceSession) -> pb::Empty;
    fn detach(pb::PresenceSession) -> pb::PresenceUpdate;
    fn query(pb::PresenceQuery) -> pb::PresenceList;
    fn routes(pb::PresenceQuery) -> pb::PresenceRoutes;
}

crate::rpc_service! {
    /// Ephemeral signals that fanout delivers to a conversation's online members.
    api FanoutApi, client FanoutClient, server FanoutGrpc;
    grpc fanout_client::FanoutClient, fanout_server::Fanout / FanoutServer;
    fn typing(pb::TypingSignal) -> pb::Empty;
    fn presence_changed(pb::PresenceInfo) -> pb::Empty;
    fn receipt(pb::ReceiptSignal) -> pb::Empty;
}

//! Which Parley service is calling: the identity an internal gRPC request
//! arrives with, and what each identity may call.
//!
//! In split mode every internal connection is mutual TLS with the cluster's
//! CA (services/parley/src/internal_tls.rs). A service's certificate names
//! it with one DNS name, `<service>.parley.internal`; the server side turns
//! the certificate a caller presented into a [`Peer`] and puts it in the
//! request's extensions, and the generated gRPC adapters (`rpc.rs`) refuse a
//! request without one (unauthenticated) or one the table below does not
//! allow (permission denied). So an anonymous caller is refused everywhere,
//! and a stolen gateway certificate still cannot act as the system.

use crate::{ServiceError, ServiceResult};
use parley_proto::v1 as pb;

/// A Parley service, as named by its certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Peer {
    Gateway,
    Auth,
    Storage,
    Presence,
    Fanout,
}

/// The DNS name suffix of service identities: not a real domain, so no
/// public CA can issue it, and independent of how the cluster names its
/// hosts (clients pin it instead of the address they dial).
pub const IDENTITY_DOMAIN: &str = "parley.internal";

impl Peer {
    pub const ALL: [Peer; 5] = [
        Peer::Gateway,
        Peer::Auth,
        Peer::Storage,
        Peer::Presence,
        Peer::Fanout,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Peer::Gateway => "gateway",
            Peer::Auth => "auth",
            Peer::Storage => "storage",
            Peer::Presence => "presence",
            Peer::Fanout => "fanout",
        }
    }

    /// The name in this service's certificate, e.g. `storage.parley.internal`.
    pub fn dns_name(self) -> String {
        format!("{}.{IDENTITY_DOMAIN}", self.name())
    }

    pub fn from_name(name: &str) -> Option<Peer> {
        Peer::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// Whether `peer` may call `method` of `api` (names as in `services.rs`),
/// and whether it may act as the system there. Least privilege: each
/// service may call exactly what its code calls.
pub fn authorize(
    peer: Option<Peer>,
    api: &str,
    method: &str,
    caller: Option<&pb::Caller>,
) -> ServiceResult<()> {
    let Some(peer) = peer else {
        return Err(ServiceError::Unauthenticated(
            "internal calls need a Parley service certificate".into(),
        ));
    };
    let allowed = match (peer, api) {
        (Peer::Gateway, "StorageApi" | "AuthApi") => true,
        (Peer::Gateway, "PresenceApi") => {
            matches!(method, "attach" | "heartbeat" | "detach" | "query")
        }
        (Peer::Gateway, "FanoutApi") => {
            matches!(method, "typing" | "presence_changed" | "receipt")
        }
        (Peer::Fanout, "StorageApi") => matches!(method, "member_ids" | "contacts"),
        (Peer::Fanout, "PresenceApi") => matches!(method, "query" | "routes"),
        _ => false,
    };
    if !allowed {
        return Err(ServiceError::PermissionDenied(format!(
            "the {} service may not call {api}/{method}",
            peer.name()
        )));
    }
    // Only fanout resolves recipients for no user; the internet-facing
    // gateway always acts for the signed-in user.
    let system = matches!(
        caller.and_then(|c| c.kind.as_ref()),
        Some(pb::caller::Kind::System(_))
    );
    if system && peer != Peer::Fanout {
        return Err(ServiceError::PermissionDenied(format!(
            "the {} service may not act as the system",
            peer.name()
        )));
    }
    Ok(())
}

/// For tests of one service's gRPC mapping without TLS: every request is
/// taken to come from `peer`. Never in a server Parley runs (the
/// architecture test keeps it out of the composition root, which serves
/// internal gRPC only behind mutual TLS).
#[doc(hidden)]
pub fn assume_peer_in_tests(
    peer: Peer,
) -> impl FnMut(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + Clone {
    move |mut req: tonic::Request<()>| {
        req.extensions_mut().insert(peer);
        Ok(req)
    }
}

/// The `caller` field of an internal request, where it has one.
pub trait CallerField {
    fn caller_field(&self) -> Option<&pb::Caller> {
        None
    }
}

macro_rules! caller_fields {
    (with: $($with:ty),* ; without: $($without:ty),* $(,)?) => {
        $( impl CallerField for $with {
            fn caller_field(&self) -> Option<&pb::Caller> {
                self.caller.as_ref()
            }
        } )*
        $( impl CallerField for $without {} )*
    };
}

caller_fields! {
    with: pb::CreateConversationRequest, pb::ConversationRequest, pb::AddMembersRequest,
        pb::RemoveMemberRequest, pb::AppendRequest, pb::UserHistoryRequest,
        pb::SyncPageRequest, pb::MarkReadRequest, pb::MembersRequest, pb::CallerRequest,
        pb::SettingsRequest, pb::BlockRequest, pb::RelationsRequest, pb::RespondRequest, pb::MessageRequest,
        pb::UserSearchRequest;
    without: pb::Credentials, pb::LoginRequest, pb::RefreshRequest, pb::Empty,
        pb::LookupUsersRequest, pb::PresenceSession, pb::PresenceQuery, pb::TypingSignal,
        pb::PresenceInfo, pb::ReceiptSignal, pb::RevokedSince, pb::AccountRef,
        pb::EndSessionsRequest, pb::ChangePasswordRequest, pb::AdminListAccountsRequest,
        pb::AdminTarget, pb::AdminCreateAccountRequest, pb::AdminSetActiveRequest,
        pb::AdminSetRoleRequest, pb::AdminResetPasswordRequest, pb::AdminEndSessionsRequest,
        pb::AdminActor, pb::AdminSetRegistrationRequest, pb::AdminCreateInviteRequest,
        pb::AdminRevokeInviteRequest, pb::AdminAuditRequest, pb::OidcStartRequest,
        pb::OidcFinishRequest, pb::OidcTicket, pb::UpdateProfileRequest,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Caller;

    #[test]
    fn anonymous_callers_are_refused_everywhere() {
        for (api, method) in [
            ("StorageApi", "append"),
            ("AuthApi", "jwks"),
            ("PresenceApi", "query"),
            ("FanoutApi", "typing"),
        ] {
            assert!(matches!(
                authorize(None, api, method, None),
                Err(ServiceError::Unauthenticated(_))
            ));
        }
    }

    #[test]
    fn each_service_calls_only_what_it_needs() {
        let user = Caller::user("alice").unwrap().to_proto();
        let system = Caller::System.to_proto();
        let ok = |p, a, m, c: &Option<pb::Caller>| authorize(Some(p), a, m, c.as_ref()).is_ok();
        assert!(ok(Peer::Gateway, "StorageApi", "append", &user));
        assert!(!ok(Peer::Gateway, "StorageApi", "list_members", &system));
        assert!(ok(Peer::Fanout, "StorageApi", "member_ids", &system));
        assert!(!ok(Peer::Fanout, "StorageApi", "list_members", &system));
        assert!(ok(Peer::Fanout, "PresenceApi", "routes", &None));
        assert!(!ok(Peer::Gateway, "PresenceApi", "routes", &None));
        assert!(!ok(Peer::Fanout, "StorageApi", "append", &system));
        assert!(!ok(Peer::Fanout, "AuthApi", "login", &None));
        assert!(!ok(Peer::Storage, "StorageApi", "history", &user));
        assert!(!ok(Peer::Presence, "FanoutApi", "typing", &None));
        assert!(!ok(Peer::Gateway, "PresenceApi", "nonexistent", &None));
        for p in Peer::ALL {
            assert_eq!(Peer::from_name(p.name()), Some(p));
            assert!(p.dns_name().ends_with(".parley.internal"));
        }
    }
}

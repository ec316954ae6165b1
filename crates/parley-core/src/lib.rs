//! Parley's shared domain: validated identifiers, the service error type and
//! its single mapping to gRPC status, and the service APIs with their client
//! types (local implementation or gRPC channel).

pub mod caller;
pub mod error;
pub mod ids;
pub mod lanes;
pub mod list_order;
pub mod peer;
pub mod routing;
pub mod rpc;
pub mod services;
pub mod time;
pub mod trace;

pub use caller::Caller;
pub use error::{ServiceError, ServiceResult};

//! Backend ports: the small traits services depend on, with one
//! conformance suite per port (feature `conformance`) that every
//! implementation (embedded and production) must pass.

pub mod auth_store;
pub mod bus;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod error;
pub mod presence_store;
pub mod timeline_store;

pub use auth_store::{
    AuthRecord, AuthRecordKind, AuthStore, FamilyRecord, RefreshRecord, RefreshUse,
    SigningKeyRecord, UserRecord,
};
pub use bus::{
    Broadcast, DeliverySink, EncodedFrame, EventBus, GatewayRoute, Push, StoredConsumer,
    StoredDelivery, StoredEvent, Subscription,
};
pub use error::{BusError, BusResult, StoreError, StoreResult};
pub use presence_store::{ConnRef, PresenceStore};
pub use timeline_store::{
    PinRow, ReactionRow, ReadRange, RecordKey, RecordKind, RecordWrite, ThreadRow, TimelineStore,
};

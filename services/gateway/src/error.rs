/// Errors of starting or running a gateway.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("cannot load signing keys from auth: {0}")]
    Jwks(String),
    #[error("serving HTTP failed: {0}")]
    Serve(#[from] std::io::Error),
    #[error("cannot subscribe to this gateway's deliveries: {0}")]
    Bus(#[from] parley_ports::BusError),
}

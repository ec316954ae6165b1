//! One macro defines, for each service: the API trait the service
//! implements, the client type callers hold (a local implementation in
//! embedded mode or a tonic channel in split mode, with the same methods),
//! and the tonic server adapter. Both topologies therefore run the same
//! service code, and the error mapping of `crate::error` is the only one.
//! The server adapter admits only requests from a service identity that
//! may make them (`crate::peer`).

/// Defines `$Api` (trait), `$Client` (local or remote) and `$Server` (gRPC).
#[macro_export]
macro_rules! rpc_service {
    (
        $(#[$doc:meta])*
        api $Api:ident, client $Client:ident, server $Server:ident;
        grpc $client_mod:ident :: $GrpcClient:ident, $server_mod:ident :: $GrpcTrait:ident / $GrpcServer:ident;
        $( fn $method:ident($Req:ty) -> $Resp:ty; )*
    ) => {
        $(#[$doc])*
        #[async_trait::async_trait]
        pub trait $Api: Send + Sync + 'static {
            $( async fn $method(&self, req: $Req) -> $crate::ServiceResult<$Resp>; )*
        }

        /// Calls the service in this process or over gRPC, through the same methods.
        #[derive(Clone)]
        pub enum $Client {
            Local(std::sync::Arc<dyn $Api>),
            Remote(parley_proto::v1::$client_mod::$GrpcClient<tonic::transport::Channel>),
        }

        impl $Client {
            pub fn local(api: std::sync::Arc<dyn $Api>) -> Self {
                Self::Local(api)
            }

            /// A client over a (lazily connecting) gRPC channel.
            pub fn remote(channel: tonic::transport::Channel) -> Self {
                Self::Remote(parley_proto::v1::$client_mod::$GrpcClient::new(channel))
            }
        }

        impl std::fmt::Debug for $Client {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self {
                    Self::Local(_) => f.write_str(concat!(stringify!($Client), "(local)")),
                    Self::Remote(_) => f.write_str(concat!(stringify!($Client), "(remote)")),
                }
            }
        }

        #[async_trait::async_trait]
        impl $Api for $Client {
            $(
                async fn $method(&self, req: $Req) -> $crate::ServiceResult<$Resp> {
                    match self {
                        Self::Local(api) => api.$method(req).await,
                        Self::Remote(client) => {
                            let mut client = client.clone();
                            let mut request = tonic::Request::new(req);
                            $crate::trace::inject_metadata(request.metadata_mut());
                            Ok(client.$method(request).await?.into_inner())
                        }
                    }
                }
            )*
        }

        /// Serves an implementation over gRPC.
        pub struct $Server(pub std::sync::Arc<dyn $Api>);

        impl $Server {
            pub fn into_service(self) -> parley_proto::v1::$server_mod::$GrpcServer<Self> {
                parley_proto::v1::$server_mod::$GrpcServer::new(self)
            }
        }

        #[tonic::async_trait]
        impl parley_proto::v1::$server_mod::$GrpcTrait for $Server {
            $(
                async fn $method(
                    &self,
                    req: tonic::Request<$Req>,
                ) -> Result<tonic::Response<$Resp>, tonic::Status> {
                    use tracing::Instrument;
                    let method = concat!(stringify!($Api), "/", stringify!($method));
                    // The caller's trace continues here.
                    let span = tracing::info_span!("rpc", method);
                    $crate::trace::set_parent(&span, &$crate::trace::metadata_headers(req.metadata()));
                    // Who is calling (set from its certificate) and whether it may.
                    let peer = req.extensions().get::<$crate::peer::Peer>().copied();
                    if let Err(e) = $crate::peer::authorize(
                        peer,
                        stringify!($Api),
                        stringify!($method),
                        $crate::peer::CallerField::caller_field(req.get_ref()),
                    ) {
                        metrics::counter!("parley_grpc_server_refused_total", "method" => method)
                            .increment(1);
                        return Err(e.into());
                    }
                    let started = std::time::Instant::now();
                    let result = self.0.$method(req.into_inner()).instrument(span).await;
                    metrics::histogram!("parley_grpc_server_seconds", "method" => method)
                        .record(started.elapsed().as_secs_f64());
                    if let Err(e) = &result {
                        metrics::counter!("parley_grpc_server_errors_total", "method" => method, "code" => e.protocol_code())
                            .increment(1);
                    }
                    Ok(tonic::Response::new(result?))
                }
            )*
        }
    };
}

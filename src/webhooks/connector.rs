//! The TCP connector of deliveries to endpoints created through the API: it resolves the host
//! itself, checks every address against the [`DestinationPolicy`], and connects only to the
//! addresses it checked, so a name cannot answer one address to the check and another to the
//! connection. A refusal is a connection error whose words say why; the attempt is recorded as
//! failed and follows the retry schedule like any other.

use std::{
    io,
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use actix_service::Service;
use actix_tls::connect::{
    tcp::TcpConnectorService, ConnectError, ConnectInfo, Connection as TcpConnection,
};
use awc::http::Uri;
use futures_util::future::LocalBoxFuture;
use tokio::net::TcpStream;

use super::destination::{is_local_address, DestinationPolicy};

/// Plugs into `awc::Connector::connector`.
#[derive(Clone)]
pub struct CheckedConnector {
    policy: Arc<DestinationPolicy>,
}

impl CheckedConnector {
    pub fn new(policy: Arc<DestinationPolicy>) -> Self {
        Self { policy }
    }
}

/// The addresses `host` stands for: an IP literal as is, a name as the system resolver answers.
async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, ConnectError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let found = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|error| ConnectError::Resolver(Box::new(error)))?;
    Ok(found.collect())
}

impl Service<ConnectInfo<Uri>> for CheckedConnector {
    type Response = TcpConnection<Uri, TcpStream>;
    type Error = ConnectError;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    actix_service::always_ready!();

    fn call(&self, request: ConnectInfo<Uri>) -> Self::Future {
        let policy = Arc::clone(&self.policy);
        Box::pin(async move {
            let addresses = resolve(request.hostname(), request.port()).await?;
            if addresses.is_empty() {
                return Err(ConnectError::NoRecords);
            }
            // Every answer, not only the first: a name that mixes a refused address with others
            // is the usual rebinding trick, and is refused as a whole.
            for address in &addresses {
                policy
                    .check_address(*address, is_local_address)
                    .map_err(|reason| {
                        ConnectError::Io(io::Error::new(
                            io::ErrorKind::PermissionDenied,
                            format!("refused by the destination policy: {reason}"),
                        ))
                    })?;
            }
            TcpConnectorService::default()
                .call(request.set_addrs(addresses))
                .await
        })
    }
}

//! The tcp probe, and the TCP connect that the http and https probes share.
//!
//! I/O only: a connect from the optional source address; the decisions (which error is
//! which reason) are `super::io_failure`.

use std::net::SocketAddr;

use tokio::net::{TcpSocket, TcpStream};

use super::io_failure;
use crate::check::{Failure, Reason, Target};

/// A completed connect is a pass; the connection is closed at once, with a reset (as
/// HAProxy closes its checks): no FIN exchange, and no TIME_WAIT socket left on the director
/// per probe (10,000 checks a second would otherwise hold 600,000 of them).
pub(super) async fn probe(target: &Target) -> Result<(), Failure> {
    let stream = open(target).await?;
    let _ = stream.set_zero_linger();
    Ok(())
}

/// A new connection to `target`, bound to `target.source` if set, for a request.
pub(super) async fn connect(target: &Target) -> Result<TcpStream, Failure> {
    let stream = open(target).await?;
    // Requests are one small write; no reason to let Nagle hold them back.
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

async fn open(target: &Target) -> Result<TcpStream, Failure> {
    let addr = SocketAddr::new(target.addr, target.port);
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(|e| Failure::new(Reason::Network, format!("cannot open a socket: {e}")))?;
    if let Some(source) = target.source {
        socket
            .bind(SocketAddr::new(source, 0))
            .map_err(|e| Failure::new(Reason::Network, format!("cannot bind {source}: {e}")))?;
    }
    socket.connect(addr).await.map_err(|e| io_failure(&e))
}

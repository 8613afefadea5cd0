//! The admin listener (`global.admin_listen`, loopback by default): `/metrics`
//! (OpenMetrics text), `/healthz` (the process answers), `/readyz` (the IPVS table has
//! converged since start). HTTP/1.1 on hyper; GET and HEAD only.
//!
//! I/O shell: it reads the shared metrics, it decides nothing. A listener that cannot be
//! bound is retried every 10 s: the director keeps directing without it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tracing::{debug, error, info};

use crate::metrics::Shared;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Connections served at once; more wait in the kernel's accept queue.
const MAX_CONNECTIONS: usize = 64;

/// Serves until the task is aborted.
pub async fn serve(addr: SocketAddr, metrics: Shared) {
    let listener = loop {
        match TcpListener::bind(addr).await {
            Ok(l) => break l,
            Err(e) => {
                error!(%addr, error = %e, "cannot listen for the admin API; retrying in 10s");
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
        }
    };
    info!(%addr, "admin API listening (/metrics, /healthz, /readyz)");
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        if conns.len() >= MAX_CONNECTIONS {
            let _ = conns.join_next().await;
            continue;
        }
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                debug!(error = %e, "admin accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let m = metrics.clone();
        conns.spawn(async move {
            let svc = service_fn(move |req| {
                let m = m.clone();
                async move { Ok::<_, Infallible>(route(&req, &m)) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), svc);
            if let Err(e) = tokio::time::timeout(Duration::from_secs(60), conn).await {
                debug!(%peer, error = %e, "admin connection closed");
            }
        });
    }
}

fn text(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

fn route(req: &Request<Incoming>, m: &Shared) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET or HEAD\n".into(),
        );
    }
    match req.uri().path() {
        "/metrics" => text(StatusCode::OK, OPENMETRICS, m.render()),
        "/healthz" => text(StatusCode::OK, "text/plain", "ok\n".into()),
        "/readyz" if m.ready.get() == 1 => text(StatusCode::OK, "text/plain", "ready\n".into()),
        "/readyz" => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "not ready: the IPVS table has not converged yet\n".into(),
        ),
        _ => text(
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: /metrics, /healthz, /readyz\n".into(),
        ),
    }
}

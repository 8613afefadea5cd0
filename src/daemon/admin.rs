//! The admin listener (`global.admin_listen`, loopback by default):
//! - `GET /metrics`: OpenMetrics text; the IPVS statistics are read from the kernel
//!   for each scrape;
//! - `GET /healthz` (the process answers), `GET /readyz` (the IPVS table has converged
//!   since start);
//! - `GET /api/v1/status`: the status document (JSON, `crate::status`);
//! - `POST /api/v1/reload`: re-read the config (as SIGHUP), answer what changed or every
//!   problem of a rejected file;
//! - `POST /api/v1/drain`, `POST /api/v1/undrain` with `{"virtual_server": NAME,
//!   "real_server": "ADDR:PORT"}` (Content-Type: application/json, so a web page cannot
//!   post it cross-origin without a preflight, which is refused).
//!
//! I/O shell: it reads the shared metrics and asks the main task (drain, status) and the
//! IPVS task (kernel dump) through channels; it decides nothing. A listener that cannot be
//! bound is retried every 10 s: the director keeps directing without it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tracing::{debug, error, info};

use crate::ipvs::backend::Observed;
use crate::ipvs::task::Command;
use crate::metrics::Shared;
use crate::status::Status;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const JSON: &str = "application/json";
/// Connections served at once; more wait in the kernel's accept queue.
const MAX_CONNECTIONS: usize = 64;
/// How long a scrape or status request waits for the kernel dump (the IPVS task answers
/// between passes); after that the last dump is used (metrics) or the kernel's side is
/// left out (status).
const KERNEL_WAIT: Duration = Duration::from_secs(2);
/// Largest request body accepted.
const MAX_BODY: usize = 4096;

/// A reload's outcome: what it changed, or the problems of the rejected file.
pub type ReloadReply = Result<Reloaded, Vec<String>>;

#[derive(Debug, Serialize, Deserialize)]
pub struct Reloaded {
    /// Checks left running (unchanged), started (new or changed), stopped.
    pub checks_kept: usize,
    pub checks_started: usize,
    pub checks_stopped: usize,
    /// VRRP instances left running (no VIP flap), and (re)started.
    pub vrrp_kept: usize,
    pub vrrp_restarted: usize,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Rejected {
    pub error: String,
    pub problems: Vec<String>,
}

/// What the admin API asks the main task.
pub enum DaemonRequest {
    /// Re-read the config file.
    Reload { reply: oneshot::Sender<ReloadReply> },
    /// The status document, given the kernel's side.
    Status {
        kernel: Result<Observed, String>,
        reply: oneshot::Sender<Status>,
    },
    /// Drain or undrain a real server: `Ok(changed)` or what was not found.
    Drain {
        virtual_server: String,
        real_server: String,
        drain: bool,
        reply: oneshot::Sender<Result<bool, String>>,
    },
}

/// What the handlers share.
#[derive(Clone)]
pub struct Ctx {
    pub metrics: Shared,
    pub ipvs: std::sync::mpsc::Sender<Command>,
    pub daemon: mpsc::Sender<DaemonRequest>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct DrainRequest {
    pub virtual_server: String,
    pub real_server: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct DrainReply {
    pub virtual_server: String,
    pub real_server: String,
    pub drained: bool,
    /// False when it already was in that state.
    pub changed: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorReply {
    pub error: String,
}

/// Serves until the task is aborted.
pub async fn serve(addr: SocketAddr, ctx: Ctx) {
    let listener = loop {
        match TcpListener::bind(addr).await {
            Ok(l) => break l,
            Err(e) => {
                error!(%addr, error = %e, "cannot listen for the admin API; retrying in 10s");
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
        }
    };
    info!(%addr, "admin API listening (/metrics, /healthz, /readyz, /api/v1/status)");
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
        let ctx = ctx.clone();
        conns.spawn(async move {
            let svc = service_fn(move |req| {
                let ctx = ctx.clone();
                async move { Ok::<_, Infallible>(route(req, &ctx).await) }
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

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Full<Bytes>> {
    match serde_json::to_string_pretty(value) {
        Ok(mut body) => {
            body.push('\n');
            text(status, JSON, body)
        }
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            format!("cannot encode the reply: {e}\n"),
        ),
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Response<Full<Bytes>> {
    json(
        status,
        &ErrorReply {
            error: message.into(),
        },
    )
}

/// The owned services as the kernel holds them now, asked of the IPVS task (which answers
/// between passes), waiting at most `KERNEL_WAIT`.
pub async fn snapshot(ipvs: &std::sync::mpsc::Sender<Command>) -> Result<Observed, String> {
    let (tx, rx) = oneshot::channel();
    ipvs.send(Command::Snapshot(tx))
        .map_err(|_| "the ipvs task has stopped".to_string())?;
    match tokio::time::timeout(KERNEL_WAIT, rx).await {
        Ok(Ok(r)) => r,
        Ok(Err(_)) => Err("the ipvs task did not answer".into()),
        Err(_) => Err("the ipvs task is busy; try again".into()),
    }
}

async fn metrics(ctx: &Ctx) -> Response<Full<Bytes>> {
    match snapshot(&ctx.ipvs).await {
        Ok(observed) => ctx.metrics.ipvs.set(observed),
        Err(e) => debug!(error = %e, "ipvs statistics not refreshed for this scrape"),
    }
    text(StatusCode::OK, OPENMETRICS, ctx.metrics.render())
}

async fn status(ctx: &Ctx) -> Response<Full<Bytes>> {
    let kernel = snapshot(&ctx.ipvs).await;
    let (reply, rx) = oneshot::channel();
    if ctx
        .daemon
        .send(DaemonRequest::Status { kernel, reply })
        .await
        .is_err()
    {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the daemon is stopping");
    }
    match rx.await {
        Ok(s) => json(StatusCode::OK, &s),
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "the daemon is stopping"),
    }
}

async fn drain(req: Request<Incoming>, ctx: &Ctx, drain: bool) -> Response<Full<Bytes>> {
    let is_json = wants_json(&req);
    if !is_json {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send a JSON body with Content-Type: application/json",
        );
    }
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("cannot read the body: {e}"),
            );
        }
    };
    let want: DrainRequest = match serde_json::from_slice(&body) {
        Ok(w) => w,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "expected {{\"virtual_server\": NAME, \"real_server\": \"ADDR:PORT\"}}: {e}"
                ),
            );
        }
    };
    let (reply, rx) = oneshot::channel();
    let asked = DaemonRequest::Drain {
        virtual_server: want.virtual_server.clone(),
        real_server: want.real_server.clone(),
        drain,
        reply,
    };
    if ctx.daemon.send(asked).await.is_err() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the daemon is stopping");
    }
    match rx.await {
        Ok(Ok(changed)) => json(
            StatusCode::OK,
            &DrainReply {
                virtual_server: want.virtual_server,
                real_server: want.real_server,
                drained: drain,
                changed,
            },
        ),
        Ok(Err(e)) => error(StatusCode::NOT_FOUND, e),
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "the daemon is stopping"),
    }
}

const PATHS: &str = "GET /metrics, /healthz, /readyz, /api/v1/status; POST /api/v1/reload, /api/v1/drain, /api/v1/undrain";

/// Changes are accepted only with a JSON content type: a web page cannot send that
/// cross-origin without a preflight, which is refused.
fn wants_json(req: &Request<Incoming>) -> bool {
    req.headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|t| t.trim() == JSON))
}

async fn reload(req: Request<Incoming>, ctx: &Ctx) -> Response<Full<Bytes>> {
    if !wants_json(&req) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send Content-Type: application/json",
        );
    }
    let (reply, rx) = oneshot::channel();
    if ctx
        .daemon
        .send(DaemonRequest::Reload { reply })
        .await
        .is_err()
    {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the daemon is stopping");
    }
    match rx.await {
        Ok(Ok(r)) => json(StatusCode::OK, &r),
        Ok(Err(problems)) => json(
            StatusCode::UNPROCESSABLE_ENTITY,
            &Rejected {
                error: "the config has problems; the running config stays in force".into(),
                problems,
            },
        ),
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "the daemon is stopping"),
    }
}

async fn route(req: Request<Incoming>, ctx: &Ctx) -> Response<Full<Bytes>> {
    let read = req.method() == Method::GET || req.method() == Method::HEAD;
    match (req.uri().path(), read, req.method() == Method::POST) {
        ("/metrics", true, _) => metrics(ctx).await,
        ("/healthz", true, _) => text(StatusCode::OK, "text/plain", "ok\n".into()),
        ("/readyz", true, _) if ctx.metrics.ready.get() == 1 => {
            text(StatusCode::OK, "text/plain", "ready\n".into())
        }
        ("/readyz", true, _) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "not ready: the IPVS table has not converged yet\n".into(),
        ),
        ("/api/v1/status", true, _) => status(ctx).await,
        ("/api/v1/reload", _, true) => reload(req, ctx).await,
        ("/api/v1/drain", _, true) => drain(req, ctx, true).await,
        ("/api/v1/undrain", _, true) => drain(req, ctx, false).await,
        ("/metrics" | "/healthz" | "/readyz" | "/api/v1/status", false, _)
        | ("/api/v1/reload" | "/api/v1/drain" | "/api/v1/undrain", _, false) => text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            format!("method not allowed: {PATHS}\n"),
        ),
        _ => text(
            StatusCode::NOT_FOUND,
            "text/plain",
            format!("not found: {PATHS}\n"),
        ),
    }
}

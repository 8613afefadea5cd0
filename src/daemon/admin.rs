//! The admin API, on two listeners: the TCP one (`global.admin_listen`, loopback by
//! default) is read-only; the control socket (`global.control_socket`, a Unix socket of
//! mode 0660 in a directory of mode 0750, so only root and the daemon's user and group
//! reach it) also takes the changes, and logs who asked (the peer's uid and pid).
//! - `GET /metrics`: OpenMetrics text; the IPVS statistics are read from the kernel
//!   for each scrape;
//! - `GET /healthz` (the process answers), `GET /readyz` (the IPVS table has converged
//!   since start);
//! - `GET /api/v1/status`: the status document (JSON, `crate::status`);
//! - control socket only: `POST /api/v1/reload`: re-read the config (as SIGHUP), answer
//!   what changed or every problem of a rejected file;
//! - control socket only: `POST /api/v1/drain`, `POST /api/v1/undrain` with
//!   `{"virtual_server": NAME, "real_server": "ADDR:PORT"}` (Content-Type:
//!   application/json).
//!
//! I/O shell: it reads the shared metrics and asks the main task (drain, status) and the
//! IPVS task (kernel dump) through channels; the one rule it applies is which listener may
//! ask for changes. A listener that cannot be
//! bound is retried every 10 s: the director keeps directing without it.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
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
/// Mode of the control socket: connecting needs write permission, so root and the
/// daemon's user and group.
const CONTROL_MODE: u32 = 0o660;
/// Mode of the control socket's directory when ipvsd creates it.
const CONTROL_DIR_MODE: u32 = 0o750;

/// What a connection may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// The TCP listener: read only.
    ReadOnly,
    /// The control socket: changes too; the peer's uid and pid, for the log.
    Control { uid: u32, pid: Option<i32> },
}

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

/// Serves one connection until it closes, or for at most 60 s.
fn serve_connection<S>(conns: &mut JoinSet<()>, stream: S, peer: String, access: Access, ctx: &Ctx)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let ctx = ctx.clone();
    conns.spawn(async move {
        let svc = service_fn(move |req| {
            let ctx = ctx.clone();
            async move { Ok::<_, Infallible>(route(req, &ctx, access).await) }
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

/// Serves the control socket at `path` until the task is aborted; the socket file is
/// removed then (if it still is this one's).
pub async fn serve_control(path: PathBuf, ctx: Ctx) {
    let what = format!("the control socket {}", path.display());
    let (listener, _file) = bound(&what, || std::future::ready(bind_control(&path))).await;
    info!(path = %path.display(), "control socket listening (reload, drain, undrain, status)");
    accept_loop(&listener, &ctx).await;
}

/// A listener whose connections are served by [`accept_loop`].
trait Acceptor {
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// The next connection, its peer (for the log) and what it may do.
    async fn next(&self) -> io::Result<(Self::Stream, String, Access)>;
}

impl Acceptor for TcpListener {
    type Stream = tokio::net::TcpStream;
    async fn next(&self) -> io::Result<(Self::Stream, String, Access)> {
        let (stream, peer) = self.accept().await?;
        Ok((stream, peer.to_string(), Access::ReadOnly))
    }
}

impl Acceptor for UnixListener {
    type Stream = tokio::net::UnixStream;
    async fn next(&self) -> io::Result<(Self::Stream, String, Access)> {
        let (stream, _) = self.accept().await?;
        let cred = stream.peer_cred()?;
        let access = Access::Control {
            uid: cred.uid(),
            pid: cred.pid(),
        };
        Ok((stream, format!("uid {}", cred.uid()), access))
    }
}

/// Accepts and serves connections, at most `MAX_CONNECTIONS` at once, forever.
async fn accept_loop(listener: &impl Acceptor, ctx: &Ctx) {
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        if conns.len() >= MAX_CONNECTIONS {
            let _ = conns.join_next().await;
            continue;
        }
        match listener.next().await {
            Ok((stream, peer, access)) => serve_connection(&mut conns, stream, peer, access, ctx),
            Err(e) => {
                debug!(error = %e, "admin accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// The bound control socket file: removed when dropped, unless another socket took its
/// place since.
struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let same = std::fs::symlink_metadata(&self.path)
            .is_ok_and(|m| m.dev() == self.dev && m.ino() == self.ino);
        if same {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Binds the control socket: creates its directory (0750) if missing, replaces a stale
/// socket (nobody accepts on it) but never a live one or another kind of file, and sets
/// the socket's mode to 0660.
fn bind_control(path: &Path) -> io::Result<(UnixListener, SocketFile)> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(CONTROL_DIR_MODE)
                .create(dir)?;
        }
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    "another process (another ipvsd?) is serving this socket",
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                debug!(path = %path.display(), "stale control socket removed");
                std::fs::remove_file(path)?;
            }
            Err(e) => return Err(e),
        },
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "a file that is not a socket is in the way (not removed)",
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(CONTROL_MODE))?;
    let m = std::fs::symlink_metadata(path)?;
    Ok((
        listener,
        SocketFile {
            path: path.to_path_buf(),
            dev: m.dev(),
            ino: m.ino(),
        },
    ))
}

/// `bind` once it succeeds: a failure is logged and tried again every 10 s (the director
/// keeps directing meanwhile).
async fn bound<T, F>(what: &str, mut bind: impl FnMut() -> F) -> T
where
    F: std::future::Future<Output = io::Result<T>>,
{
    loop {
        match bind().await {
            Ok(l) => return l,
            Err(e) => {
                error!(error = %e, "cannot listen on {what}; retrying in 10s");
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
        }
    }
}

/// Serves the TCP listener until the task is aborted.
pub async fn serve(addr: SocketAddr, ctx: Ctx) {
    let what = format!("{addr} for the admin API");
    let listener = bound(&what, || TcpListener::bind(addr)).await;
    info!(%addr, "admin API listening, read-only (/metrics, /healthz, /readyz, /api/v1/status)");
    accept_loop(&listener, &ctx).await;
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

const PATHS: &str = "GET /metrics, /healthz, /readyz, /api/v1/status; POST /api/v1/reload, /api/v1/drain, /api/v1/undrain (control socket)";

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

async fn route(req: Request<Incoming>, ctx: &Ctx, access: Access) -> Response<Full<Bytes>> {
    let read = req.method() == Method::GET || req.method() == Method::HEAD;
    let write = req.method() == Method::POST;
    let changes = matches!(
        req.uri().path(),
        "/api/v1/reload" | "/api/v1/drain" | "/api/v1/undrain"
    );
    if write && changes {
        match access {
            Access::ReadOnly => {
                return error(
                    StatusCode::FORBIDDEN,
                    "the TCP admin API is read-only: reload, drain and undrain go through the \
                     control socket (global.control_socket), which `ipvsd reload|drain|undrain` use",
                );
            }
            Access::Control { uid, pid } => {
                info!(
                    uid,
                    pid = pid.unwrap_or(0),
                    request = req.uri().path(),
                    "control request"
                );
            }
        }
    }
    match (req.uri().path(), read, write) {
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

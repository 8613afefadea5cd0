//! `ipvsd status`, `ipvsd reload` and `ipvsd drain|undrain`: clients of the running
//! daemon's admin API (HTTP/1.1): changes through its control socket
//! (`global.control_socket`), the status through `global.admin_listen` (loopback by
//! default).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;

use super::{EXIT_INVALID, EXIT_OK, EXIT_RUNTIME, error_chain};
use crate::config;
use crate::daemon::admin::{DrainReply, DrainRequest, ErrorReply, Rejected, Reloaded};
use crate::status::{self, Status};

/// Exit status of `drain`/`undrain` when the virtual or real server is not in the config.
pub const EXIT_NOT_FOUND: u8 = 5;

const TIMEOUT: Duration = Duration::from_secs(10);

/// Where a request goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The admin API's TCP listener (read-only).
    Tcp(SocketAddr),
    /// The control socket.
    Socket(PathBuf),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tcp(a) => write!(f, "the ipvsd admin API at {a}"),
            Target::Socket(p) => write!(f, "the ipvsd control socket {}", p.display()),
        }
    }
}

/// Where the daemon of the config at `config_path` takes a change (its control socket)
/// or a status request (its `admin_listen`; a wildcard address is reached on loopback).
/// A config without a control socket takes changes nowhere: they go to the TCP listener,
/// which refuses them and says why. An unreadable config: the defaults.
pub fn target_of_config(config_path: &Path, change: bool) -> Target {
    let (listen, socket, problem) = match config::load_file(config_path) {
        Ok(cfg) => (cfg.global.admin_listen, cfg.global.control_socket, None),
        Err(e) => (
            SocketAddr::new(
                Ipv4Addr::LOCALHOST.into(),
                config::schema::DEFAULT_ADMIN_PORT,
            ),
            Some(PathBuf::from(config::schema::DEFAULT_CONTROL_SOCKET)),
            Some(
                error_chain(&e)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            ),
        ),
    };
    let target = match socket {
        Some(p) if change => Target::Socket(p),
        _ => Target::Tcp(loopback_of(listen)),
    };
    if let Some(p) = problem {
        eprintln!("ipvsd: note: {p}; trying {target}");
    }
    target
}

/// A wildcard listen address is reached on loopback.
fn loopback_of(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        IpAddr::V4(a) if a.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), listen.port())
        }
        IpAddr::V6(a) if a.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), listen.port())
        }
        _ => listen,
    }
}

/// One request; the status code and body.
async fn call(
    target: &Target,
    method: Method,
    path: &str,
    body: Option<String>,
) -> Result<(StatusCode, Bytes), String> {
    let fail = |what: &str, e: &dyn std::error::Error| {
        let hint = match target {
            Target::Tcp(_) => "is `ipvsd run` running with this admin_listen?",
            Target::Socket(_) => {
                "is `ipvsd run` running with this control_socket? Only root and the \
                 daemon's user and group may connect"
            }
        };
        format!("{what} {target}: {} ({hint})", error_chain(e))
    };
    let (connected, host) = match target {
        Target::Tcp(addr) => (
            handshake(tokio::net::TcpStream::connect(addr).await).await,
            addr.to_string(),
        ),
        Target::Socket(p) => (
            handshake(tokio::net::UnixStream::connect(p).await).await,
            "localhost".to_string(),
        ),
    };
    let mut sender = connected.map_err(|(what, e)| fail(what, e.as_ref()))?;
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, host);
    if body.is_some() {
        req = req.header(hyper::header::CONTENT_TYPE, "application/json");
    }
    let req = req
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(|e| fail("cannot build a request for", &e))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| fail("no answer from", &e))?;
    let code = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| fail("cannot read the answer of", &e))?
        .to_bytes();
    Ok((code, bytes))
}

/// An HTTP/1.1 client connection over a connected `stream`, driven by a task of its own;
/// or what failed (connecting, then talking) and why.
async fn handshake<S>(
    stream: std::io::Result<S>,
) -> Result<
    hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    (&'static str, Box<dyn std::error::Error>),
>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let stream = stream.map_err(|e| ("cannot connect to", e.into()))?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| ("cannot talk to", e.into()))?;
    tokio::spawn(conn);
    Ok(sender)
}

fn run<T>(f: impl std::future::Future<Output = Result<T, String>>) -> Result<T, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start: {e}"))?;
    rt.block_on(async {
        tokio::time::timeout(TIMEOUT, f)
            .await
            .unwrap_or_else(|_| Err("the ipvsd admin API did not answer in 10 s".into()))
    })
}

fn error_text(code: StatusCode, body: &[u8]) -> String {
    match serde_json::from_slice::<ErrorReply>(body) {
        Ok(e) => e.error,
        Err(_) => format!("{code}: {}", String::from_utf8_lossy(body).trim()),
    }
}

/// `ipvsd status [--json]`.
pub fn status(target: &Target, json: bool) -> u8 {
    let got = run(call(target, Method::GET, "/api/v1/status", None));
    let (code, body) = match got {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ipvsd: {e}");
            return EXIT_RUNTIME;
        }
    };
    if code != StatusCode::OK {
        eprintln!("ipvsd: status: {}", error_text(code, &body));
        return EXIT_RUNTIME;
    }
    if json {
        print!("{}", String::from_utf8_lossy(&body));
        return EXIT_OK;
    }
    match serde_json::from_slice::<Status>(&body) {
        Ok(s) => {
            print!("{}", status::render(&s));
            EXIT_OK
        }
        Err(e) => {
            eprintln!(
                "ipvsd: the status document cannot be read: {e} (daemon of another version?)"
            );
            EXIT_RUNTIME
        }
    }
}

/// `ipvsd drain|undrain VIRTUAL_SERVER REAL_SERVER`.
pub fn drain(target: &Target, virtual_server: &str, real_server: &str, drain: bool) -> u8 {
    let body = DrainRequest {
        virtual_server: virtual_server.into(),
        real_server: real_server.into(),
    };
    let body = match serde_json::to_string(&body) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("ipvsd: {e}");
            return EXIT_RUNTIME;
        }
    };
    let path = if drain {
        "/api/v1/drain"
    } else {
        "/api/v1/undrain"
    };
    let (code, reply) = match run(call(target, Method::POST, path, Some(body))) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ipvsd: {e}");
            return EXIT_RUNTIME;
        }
    };
    match code {
        StatusCode::OK => {
            let r: Result<DrainReply, _> = serde_json::from_slice(&reply);
            let what = if drain { "drained" } else { "undrained" };
            match r {
                Ok(r) if r.changed => println!("{real_server} of {virtual_server}: {what}"),
                Ok(_) => println!("{real_server} of {virtual_server}: already {what}"),
                Err(e) => {
                    eprintln!("ipvsd: unexpected answer: {e}");
                    return EXIT_RUNTIME;
                }
            }
            EXIT_OK
        }
        StatusCode::NOT_FOUND => {
            eprintln!("ipvsd: {}", error_text(code, &reply));
            EXIT_NOT_FOUND
        }
        _ => {
            eprintln!("ipvsd: {}", error_text(code, &reply));
            EXIT_RUNTIME
        }
    }
}

/// `ipvsd reload`: the daemon re-reads its config; prints what changed, or every problem
/// of a rejected file (exit 1, like check-config; the running config stays).
pub fn reload(target: &Target) -> u8 {
    let got = run(call(
        target,
        Method::POST,
        "/api/v1/reload",
        Some(String::new()),
    ));
    let (code, body) = match got {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ipvsd: {e}");
            return EXIT_RUNTIME;
        }
    };
    match code {
        StatusCode::OK => match serde_json::from_slice::<Reloaded>(&body) {
            Ok(r) => {
                println!(
                    "reloaded: checks {} kept, {} started, {} stopped; VRRP instances {} kept, {} restarted",
                    r.checks_kept,
                    r.checks_started,
                    r.checks_stopped,
                    r.vrrp_kept,
                    r.vrrp_restarted
                );
                EXIT_OK
            }
            Err(e) => {
                eprintln!("ipvsd: unexpected answer: {e}");
                EXIT_RUNTIME
            }
        },
        StatusCode::UNPROCESSABLE_ENTITY => match serde_json::from_slice::<Rejected>(&body) {
            Ok(r) => {
                for p in &r.problems {
                    eprintln!("{p}");
                }
                eprintln!("ipvsd: reload rejected: {}", r.error);
                EXIT_INVALID
            }
            Err(e) => {
                eprintln!("ipvsd: unexpected answer: {e}");
                EXIT_RUNTIME
            }
        },
        _ => {
            eprintln!("ipvsd: {}", error_text(code, &body));
            EXIT_RUNTIME
        }
    }
}

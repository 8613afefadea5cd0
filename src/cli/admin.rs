//! `ipvsd status` and `ipvsd drain|undrain`: clients of the running daemon's admin API
//! (HTTP/1.1 on `global.admin_listen`, loopback by default).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
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

/// Where the daemon's admin API is: `--admin`, else the config's `admin_listen` (a
/// wildcard address is reached on loopback), else the default.
pub fn address(admin: Option<SocketAddr>, config_path: &Path) -> SocketAddr {
    if let Some(a) = admin {
        return a;
    }
    let listen = match config::load_file(config_path) {
        Ok(cfg) => cfg.global.admin_listen,
        Err(e) => {
            let d = SocketAddr::new(
                Ipv4Addr::LOCALHOST.into(),
                config::schema::DEFAULT_ADMIN_PORT,
            );
            eprintln!(
                "ipvsd: note: {}; trying the default admin address {d}",
                error_chain(&e).lines().next().unwrap_or_default()
            );
            d
        }
    };
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
    addr: SocketAddr,
    method: Method,
    path: &str,
    body: Option<String>,
) -> Result<(StatusCode, Bytes), String> {
    let fail = |what: &str, e: &dyn std::error::Error| {
        format!(
            "{what} the ipvsd admin API at {addr}: {} (is `ipvsd run` running with this admin_listen?)",
            error_chain(e)
        )
    };
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| fail("cannot connect to", &e))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| fail("cannot talk to", &e))?;
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, addr.to_string());
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
pub fn status(addr: SocketAddr, json: bool) -> u8 {
    let got = run(call(addr, Method::GET, "/api/v1/status", None));
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
pub fn drain(addr: SocketAddr, virtual_server: &str, real_server: &str, drain: bool) -> u8 {
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
    let (code, reply) = match run(call(addr, Method::POST, path, Some(body))) {
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
pub fn reload(addr: SocketAddr) -> u8 {
    let got = run(call(
        addr,
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

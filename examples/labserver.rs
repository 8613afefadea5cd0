//! A tiny web server for the VM labs (tests/vm/labs.sh): answers every request with
//! `200 OK` and a fixed body (the real server's name), over plain HTTP or over TLS with a
//! given certificate. busybox httpd has no TLS, and the labs need HTTPS with the lab CA.
//!
//!     labserver ADDR:PORT BODY [CERT.pem KEY.pem]
//!
//! One request per connection (HTTP/1.0 style: the answer closes it). Runs until killed.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

async fn answer<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut s: S, body: &str) {
    // Read the request head (bounded), then answer whatever it asked.
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16384 {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let reply = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}\n",
        body.len() + 1
    );
    let _ = s.write_all(reply.as_bytes()).await;
    let _ = s.shutdown().await;
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 && args.len() != 5 {
        eprintln!("usage: labserver ADDR:PORT BODY [CERT.pem KEY.pem]");
        std::process::exit(2);
    }
    let body: Arc<str> = args[2].as_str().into();
    let tls = if args.len() == 5 {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&args[3])
            .expect("certificate file")
            .collect::<Result<_, _>>()
            .expect("certificates");
        let key = PrivateKeyDer::from_pem_file(&args[4]).expect("key file");
        let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("certificate and key");
        Some(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
    } else {
        None
    };
    let listener = TcpListener::bind(&args[1]).await.expect("bind");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (tls, body) = (tls.clone(), body.clone());
        tokio::spawn(async move {
            match tls {
                Some(acceptor) => {
                    if let Ok(s) = acceptor.accept(stream).await {
                        answer(s, &body).await;
                    }
                }
                None => answer(stream, &body).await,
            }
        });
    }
}

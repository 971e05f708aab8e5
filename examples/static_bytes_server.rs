//! A minimal hyper server answering every request with the same bytes: the baseline that
//! `scripts/load-bench.sh` measures the gateway's cache hits against.
//!
//! `static_bytes_server BODY_FILE [ADDRESS]` (default address `127.0.0.1:18082`); stops on
//! Ctrl-C or SIGTERM. Like the gateway it runs a multi-thread tokio runtime (one worker per
//! core it may use, so one when pinned with `taskset -c 1`) and sets `TCP_NODELAY`.
//! With `STATIC_GATEWAY_HEADERS=1` it also sends the headers a gateway hit carries (`ETag`,
//! `Age`, `Cache-Control`, `X-Cache`, `Cache-Status`, `X-Request-Id`, fixed values), to tell
//! what those bytes cost apart from what the gateway's code costs. Either way the headers are
//! built once and each response clones them, the cheapest way hyper sends a fixed set.

use std::convert::Infallible;
use std::error::Error;
use std::net::SocketAddr;

use alumio_gateway::shutdown_signal;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// What a gateway hit sends besides `Content-Type`, `Content-Length` and `Date`.
const GATEWAY_HEADERS: [(&str, &str); 6] = [
    ("etag", "\"5556cc9d02b8d6853555220459461762\""),
    ("age", "0"),
    ("cache-control", "max-age=3599"),
    ("x-cache", "HIT"),
    ("cache-status", "alumio-gateway; hit"),
    ("x-request-id", "6e9033c4-000000000002"),
];

/// Largest body file served; the point is a task-sized body.
const MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let Some(body_file) = args.next() else {
        return Err("usage: static_bytes_server BODY_FILE [ADDRESS]".into());
    };
    let address: SocketAddr = args
        .next()
        .as_deref()
        .unwrap_or("127.0.0.1:18082")
        .parse()?;
    if std::fs::metadata(&body_file)?.len() > MAX_BODY_BYTES {
        return Err(format!("{body_file} is larger than {MAX_BODY_BYTES} bytes").into());
    }
    let body = Bytes::from(std::fs::read(&body_file)?);
    let gateway_headers = std::env::var_os("STATIC_GATEWAY_HEADERS").is_some_and(|v| v == "1");
    let headers = fixed_headers(gateway_headers);
    let listener = TcpListener::bind(address).await?;
    eprintln!(
        "static_bytes_server: {} bytes on http://{address}",
        body.len()
    );
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    eprintln!("static_bytes_server: accept failed: {error}");
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        let body = body.clone();
        let headers = headers.clone();
        tokio::spawn(async move {
            let service = service_fn(move |_request: Request<Incoming>| {
                let mut response = Response::new(Full::new(body.clone()));
                *response.headers_mut() = headers.clone();
                async move { Ok::<_, Infallible>(response) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// `Content-Type`, and with `gateway_headers` what a gateway hit sends besides.
fn fixed_headers(gateway_headers: bool) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(1 + GATEWAY_HEADERS.len());
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if gateway_headers {
        for (name, value) in GATEWAY_HEADERS {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    headers
}

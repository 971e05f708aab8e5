//! A minimal HTTP/1.1 keep-alive connection for the load tools in `examples/`: it writes GET
//! requests and reads `Content-Length`-framed replies, with no more per request than the bytes
//! on the wire, so a measurement counts the server's work rather than the client's.

use std::error::Error;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Largest response head read; task replies have a few hundred bytes of headers.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Largest response body read.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

pub(crate) type AnyError = Box<dyn Error + Send + Sync>;

/// One response as far as the load tools care.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body_len: usize,
    /// The `Cache-Status` header, if any.
    pub(crate) cache_status: Option<String>,
}

/// A keep-alive connection with its read buffer.
pub(crate) struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    pub(crate) async fn open(address: SocketAddr) -> Result<Self, AnyError> {
        let stream = TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buffer: Vec::with_capacity(4096),
        })
    }

    /// Sends `GET path`.
    pub(crate) async fn send(&mut self, path: &str) -> Result<(), AnyError> {
        let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        self.send_bytes(request.as_bytes()).await
    }

    /// Sends a request prepared beforehand.
    pub(crate) async fn send_bytes(&mut self, request: &[u8]) -> Result<(), AnyError> {
        self.stream.write_all(request).await?;
        Ok(())
    }

    /// Reads one response with a `Content-Length`, the only framing the servers under test use
    /// for these replies.
    pub(crate) async fn receive(&mut self) -> Result<Reply, AnyError> {
        let head_end = loop {
            if let Some(at) = find(&self.buffer, b"\r\n\r\n") {
                break at + 4;
            }
            if self.buffer.len() > MAX_HEAD_BYTES {
                return Err("response head too large".into());
            }
            self.read_more().await?;
        };
        let head = std::str::from_utf8(&self.buffer[..head_end])?;
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or("no status code")?;
        let mut body_len = None;
        let mut cache_status = None;
        for line in head.split("\r\n").skip(1) {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            if name.eq_ignore_ascii_case("content-length") {
                body_len = Some(value.trim().parse::<usize>()?);
            } else if name.eq_ignore_ascii_case("cache-status") {
                cache_status = Some(value.trim().to_owned());
            }
        }
        let body_len = body_len.ok_or("no content-length")?;
        if body_len > MAX_BODY_BYTES {
            return Err("response body too large".into());
        }
        while self.buffer.len() < head_end + body_len {
            self.read_more().await?;
        }
        self.buffer.drain(..head_end + body_len);
        Ok(Reply {
            status,
            body_len,
            cache_status,
        })
    }

    async fn read_more(&mut self) -> Result<(), AnyError> {
        let mut chunk = [0u8; 8192];
        let read = self.stream.read(&mut chunk).await?;
        if read == 0 {
            return Err("connection closed".into());
        }
        self.buffer.extend_from_slice(&chunk[..read]);
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

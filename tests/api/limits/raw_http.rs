//! A raw HTTP/1.1 connection, for what HTTP clients hide: which connection a request uses,
//! stalled or oversized heads, and exactly when the gateway closes.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest any read in these tests waits, so a test that goes wrong stops by itself.
pub(crate) const READ_BOUND: Duration = Duration::from_secs(10);

/// One connection to the gateway, with what was read past the last response.
pub(crate) struct RawConnection {
    stream: TcpStream,
    unread: Vec<u8>,
}

/// A response read off a raw connection.
#[derive(Debug)]
pub(crate) struct RawResponse {
    pub(crate) status: u16,
    head: String,
    pub(crate) body: Vec<u8>,
}

impl RawResponse {
    /// The value of header `name`, compared case-insensitively.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.head.split("\r\n").skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// How a connection ended while waiting for it to close.
#[derive(Debug)]
pub(crate) struct Closed {
    /// Everything the gateway sent before closing.
    pub(crate) received: Vec<u8>,
}

impl RawConnection {
    pub(crate) async fn open(address: SocketAddr) -> Self {
        Self {
            stream: TcpStream::connect(address).await.unwrap(),
            unread: Vec::new(),
        }
    }

    /// Writes `bytes`; the gateway may have closed already, so failure is returned.
    pub(crate) async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Sends a keep-alive `GET` for `target` and reads its response.
    pub(crate) async fn get(&mut self, target: &str) -> RawResponse {
        let request = format!("GET {target} HTTP/1.1\r\nHost: gateway\r\n\r\n");
        self.send(request.as_bytes()).await.unwrap();
        self.read_response().await
    }

    /// Reads one response with a `Content-Length` body.
    pub(crate) async fn read_response(&mut self) -> RawResponse {
        let head_end = loop {
            if let Some(at) = find(&self.unread, b"\r\n\r\n") {
                break at + 4;
            }
            assert!(self.fill().await > 0, "the gateway closed mid-response");
        };
        let head = String::from_utf8(self.unread[..head_end].to_vec()).unwrap();
        let status = head[9..12].parse().unwrap();
        let mut response = RawResponse {
            status,
            head,
            body: Vec::new(),
        };
        let length: usize = response
            .header("content-length")
            .map_or(0, |length| length.parse().unwrap());
        while self.unread.len() < head_end + length {
            assert!(self.fill().await > 0, "the gateway closed mid-body");
        }
        response.body = self.unread[head_end..head_end + length].to_vec();
        self.unread.drain(..head_end + length);
        response
    }

    /// Reads until the gateway closes the connection (or resets it), for at most `bound`.
    pub(crate) async fn wait_until_closed(&mut self, bound: Duration) -> Option<Closed> {
        tokio::time::timeout(bound, async {
            let mut buffer = [0_u8; 4096];
            loop {
                match self.stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(read) => self.unread.extend_from_slice(&buffer[..read]),
                }
            }
        })
        .await
        .ok()?;
        Some(Closed {
            received: std::mem::take(&mut self.unread),
        })
    }

    /// The connection's two directions, for writing while watching for the close.
    pub(crate) fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    async fn fill(&mut self) -> usize {
        let mut buffer = [0_u8; 4096];
        let read = tokio::time::timeout(READ_BOUND, self.stream.read(&mut buffer))
            .await
            .expect("the gateway answers in time")
            .unwrap();
        self.unread.extend_from_slice(&buffer[..read]);
        read
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

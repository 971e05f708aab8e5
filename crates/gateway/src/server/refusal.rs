//! The answer to a connection past the limit: a canned 503 in Alumio's `Error` shape, written
//! by a bounded number of small tasks once the request head is in, then a close that lets the
//! client read it.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncWrite;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::error::{GatewayError, api_error_body, retry_after_secs};

/// When a refused client should try again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Most refusals under way at once; past it, refused connections get a best-effort answer
/// and are closed at once, so an overload cannot make the refusals themselves unbounded.
const MAX_REFUSALS_UNDER_WAY: usize = 64;

/// Longest the request head is waited for before answering anyway.
const HEAD_TIMEOUT: Duration = Duration::from_secs(1);

/// Longest a refused client may take to take in the answer.
const WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// How long, and how many bytes, are read and dropped after the answer before closing.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_MAX_BYTES: usize = 64 * 1024;

/// The empty line that ends a request head.
const HEAD_END: &[u8] = b"\r\n\r\n";

/// Refuses connections with the canned answer, a bounded number at a time.
pub(super) struct Refusals {
    answer: Bytes,
    under_way: Arc<Semaphore>,
}

impl Refusals {
    pub(super) fn new() -> Self {
        Self {
            answer: overloaded_answer(),
            under_way: Arc::new(Semaphore::new(MAX_REFUSALS_UNDER_WAY)),
        }
    }

    /// Answers `stream` with a 503 and closes it, on a task in `tasks` when one may start.
    pub(super) fn refuse(&self, stream: TcpStream, tasks: &mut JoinSet<()>) {
        match Arc::clone(&self.under_way).try_acquire_owned() {
            Ok(permit) => {
                let answer = self.answer.clone();
                tasks.spawn(async move {
                    answer_and_close(stream, &answer).await;
                    drop(permit);
                });
            }
            Err(_) => {
                // A fresh socket's send buffer takes the whole answer; if not, it is cut short.
                let _ = stream.try_write(&self.answer);
            }
        }
    }
}

/// The complete HTTP/1.1 response for a refused connection, rendered once.
pub(super) fn overloaded_answer() -> Bytes {
    let error = GatewayError::Overloaded {
        retry_after: RETRY_AFTER,
    };
    let status = error.status();
    let body = api_error_body(&error.to_api_error());
    let head = format!(
        "HTTP/1.1 {} {}\r\n\
         Content-Type: application/json\r\n\
         Cache-Control: no-store\r\n\
         Retry-After: {}\r\n\
         Connection: close\r\n\
         Content-Length: {}\r\n\
         \r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Service Unavailable"),
        retry_after_secs(RETRY_AFTER),
        body.len(),
    );
    let mut answer = Vec::with_capacity(head.len() + body.len());
    answer.extend_from_slice(head.as_bytes());
    answer.extend_from_slice(&body);
    Bytes::from(answer)
}

/// Waits for the request head, writes `answer`, ends the sending side, then reads and drops
/// what the client sent for a short while.
///
/// Answering before the request is in makes HTTP clients such as hyper's report an unexpected
/// message instead of the 503; closing with unread input resets the connection, which can
/// destroy the answer before the client has read it.
async fn answer_and_close(mut stream: TcpStream, answer: &[u8]) {
    // A client that sends nothing in time still gets the answer.
    if let Ok(Input::Closed) = tokio::time::timeout(HEAD_TIMEOUT, read_head(&stream)).await {
        return;
    }
    match tokio::time::timeout(WRITE_TIMEOUT, write_all(&stream, answer)).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::debug!(%error, "could not send the overload answer");
            return;
        }
        Err(_) => return,
    }
    if std::future::poll_fn(|cx| Pin::new(&mut stream).poll_shutdown(cx))
        .await
        .is_err()
    {
        return;
    }
    let _ = tokio::time::timeout(LINGER, discard_input(&stream)).await;
}

async fn write_all(stream: &TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_write(bytes) {
            Ok(written) => bytes = &bytes[written..],
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// What a refused client's input came to.
#[derive(Debug, PartialEq, Eq)]
enum Input {
    /// The request head ended, or the client sent [`LINGER_MAX_BYTES`] without ending it.
    Head,
    /// The client closed or the connection failed.
    Closed,
}

/// Reads and drops input up to the end of the request head.
async fn read_head(stream: &TcpStream) -> Input {
    let mut sink = [0_u8; 4096];
    let mut read_so_far = 0;
    let mut head_end = HeadEndFinder::default();
    while read_so_far < LINGER_MAX_BYTES {
        let Some(read) = read_some(stream, &mut sink).await else {
            return Input::Closed;
        };
        read_so_far += read;
        if head_end.found_in(&sink[..read]) {
            return Input::Head;
        }
    }
    Input::Head
}

/// Finds the empty line that ends a request head in input that arrives in pieces.
#[derive(Debug, Default)]
pub(super) struct HeadEndFinder {
    /// How many bytes of [`HEAD_END`] the input so far ends with.
    matched: usize,
}

impl HeadEndFinder {
    /// Whether the head ends within `bytes`, the next piece of input.
    pub(super) fn found_in(&mut self, bytes: &[u8]) -> bool {
        for &byte in bytes {
            self.matched = if byte == HEAD_END[self.matched] {
                self.matched + 1
            } else {
                usize::from(byte == b'\r')
            };
            if self.matched == HEAD_END.len() {
                self.matched = 0;
                return true;
            }
        }
        false
    }
}

/// Reads until the client closes, fails, or has sent [`LINGER_MAX_BYTES`].
async fn discard_input(stream: &TcpStream) {
    let mut sink = [0_u8; 4096];
    let mut discarded = 0;
    while discarded < LINGER_MAX_BYTES {
        match read_some(stream, &mut sink).await {
            Some(read) => discarded += read,
            None => return,
        }
    }
}

/// Reads at least one byte into `buffer`; `None` when the client closed or the read failed.
async fn read_some(stream: &TcpStream, buffer: &mut [u8]) -> Option<usize> {
    loop {
        stream.readable().await.ok()?;
        match stream.try_read(buffer) {
            Ok(0) => return None,
            Ok(read) => return Some(read),
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return None,
        }
    }
}

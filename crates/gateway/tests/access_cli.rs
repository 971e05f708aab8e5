//! Access control as an operator meets it: the secure default at start-up, `hash-key`, and a
//! running gateway that takes new keys on SIGHUP and serves its admin API on its own listener.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use common::{Running, gateway, signal};

use alumio_gateway::access::SecretDigest;

const KEY: &str = "ops-key-2f8c4a6e0b1d3957aa10";
const NEW_KEY: &str = "ops-key-rotated-7d1b3f5a9c2e4680";
const ADMIN_TOKEN: &str = "admin-token-c3a1e5f7092b4d68";

fn usage_error(command: &mut Command) -> String {
    let output = command.output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(64), "{stderr}");
    stderr
}

#[test]
fn without_consumers_the_gateway_refuses_to_start_unless_anonymous_is_allowed() {
    let upstream = ["--upstream", "http://127.0.0.1:9/api/v1"];
    let stderr = usage_error(gateway().args(upstream).env("ALUMIO_API_TOKEN", "t"));
    assert!(
        stderr.contains("--consumers") && stderr.contains("--allow-anonymous"),
        "{stderr}"
    );

    let stderr = usage_error(gateway().args(["--demo", "--listen", "0.0.0.0:0"]));
    assert!(stderr.contains("--consumers"), "{stderr}");

    let stderr =
        usage_error(gateway().args(["--demo", "--consumers", "/nonexistent/consumers.toml"]));
    assert!(
        stderr.contains("--consumers") && stderr.contains("cannot read"),
        "{stderr}"
    );

    let stderr = usage_error(gateway().args(["--demo", "--admin-listen", "127.0.0.1:0"]));
    assert!(stderr.contains("--admin-token-file"), "{stderr}");

    let stderr = usage_error(gateway().args(["--demo", "--metrics-on-admin"]));
    assert!(stderr.contains("--metrics-on-admin"), "{stderr}");
}

#[test]
fn hash_key_prints_the_consumers_file_line_for_a_key_on_standard_input() {
    let mut child = gateway()
        .arg("hash-key")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{KEY}").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let expected = format!(
        "key-sha256 = \"{}\"\n",
        SecretDigest::of(KEY.as_bytes()).to_hex()
    );
    assert_eq!(String::from_utf8(output.stdout).unwrap(), expected);

    let mut short = gateway()
        .arg("hash-key")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(short.stdin.take().unwrap(), "too-short").unwrap();
    let output = short.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("shorter") && !stderr.contains("too-short"),
        "{stderr}"
    );
}

/// Sends every line `read` produces to the returned channel, from a thread of its own.
fn lines_of(read: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (sender, receiver) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(read).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// The first line from `lines` that `pick` turns into a value, waiting up to 30 seconds.
fn first<T>(lines: &Receiver<String>, mut pick: impl FnMut(&str) -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines.recv_timeout(left).expect("the line arrives in time");
        if let Some(value) = pick(&line) {
            return value;
        }
    }
}

/// A JSON log line as a value.
fn log_event(line: &str) -> Option<serde_json::Value> {
    serde_json::from_str(line).ok()
}

fn consumers_file(key: &str) -> String {
    let hash = SecretDigest::of(key.as_bytes()).to_hex();
    format!("[[consumer]]\nname = \"ops\"\nkey-sha256 = \"{hash}\"\nspaces = \"*\"\n")
}

#[test]
fn a_running_gateway_takes_new_keys_on_sighup_and_serves_its_admin_api() {
    let dir = tempfile::tempdir().unwrap();
    let consumers = dir.path().join("consumers.toml");
    std::fs::write(&consumers, consumers_file(KEY)).unwrap();
    let token_file = dir.path().join("admin-token");
    std::fs::write(&token_file, format!("{ADMIN_TOKEN}\n")).unwrap();

    let child = gateway()
        .args([
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .arg("--consumers")
        .arg(&consumers)
        .arg("--admin-token-file")
        .arg(&token_file)
        .args(["--metrics-on-admin", "--log-format", "json"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let stdout = lines_of(running.0.stdout.take().unwrap());
    let stderr = lines_of(running.0.stderr.take().unwrap());
    let admin = first(&stderr, |line| {
        let event = log_event(line)?;
        (event["message"] == "admin API is serving")
            .then(|| event["address"].as_str())??
            .parse::<std::net::SocketAddr>()
            .ok()
    });
    let url = first(&stdout, |line| {
        line.split('\'')
            .nth(1)
            .filter(|u| u.starts_with("http://"))
            .map(str::to_owned)
    });
    let base = url.split("/api/").next().unwrap().to_owned();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::new();
    let status = |request: reqwest::RequestBuilder| {
        runtime.block_on(async { request.send().await.unwrap().status().as_u16() })
    };
    assert_eq!(status(client.get(&url)), 401);
    assert_eq!(status(client.get(&url).bearer_auth(KEY)), 200);
    assert_eq!(
        status(client.get(format!("{base}/metrics"))),
        404,
        "metrics moved to admin"
    );

    let next = dir.path().join("consumers.toml.next");
    std::fs::write(&next, consumers_file(NEW_KEY)).unwrap();
    std::fs::rename(&next, &consumers).unwrap();
    signal(&running.0, "-HUP");
    first(&stderr, |line| {
        let event = log_event(line)?;
        (event["message"] == "consumers file reloaded" && event["forced"] == true).then_some(())
    });
    assert_eq!(status(client.get(&url).bearer_auth(NEW_KEY)), 200);
    assert_eq!(status(client.get(&url).bearer_auth(KEY)), 401);

    let admin = format!("http://{admin}");
    assert_eq!(status(client.delete(format!("{admin}/admin/cache"))), 401);
    assert_eq!(
        status(
            client
                .delete(format!("{admin}/admin/cache"))
                .bearer_auth(ADMIN_TOKEN)
        ),
        204
    );
    assert_eq!(
        status(
            client
                .get(format!("{admin}/metrics"))
                .bearer_auth(ADMIN_TOKEN)
        ),
        200
    );

    running.terminate_cleanly();
}

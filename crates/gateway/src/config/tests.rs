//! Unit tests for reading settings from flags, the config file and defaults.

use std::io::Write;
use std::time::Duration;

use super::*;

fn load(args: &[&str]) -> Result<Settings, ConfigError> {
    Settings::load(std::iter::once("alumio-gateway").chain(args.iter().copied()))
}

/// A config file that lives as long as the returned handle.
fn config_file(text: &str) -> TempConfig {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    TempConfig(file)
}

struct TempConfig(tempfile::NamedTempFile);

impl TempConfig {
    fn path(&self) -> &str {
        self.0.path().to_str().unwrap()
    }
}

#[test]
fn defaults_are_the_documented_ones() {
    let settings = load(&["--demo"]).unwrap();
    assert_eq!(settings.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(settings.ttl_active, Duration::from_secs(10));
    assert_eq!(settings.ttl_settled, Duration::from_secs(300));
    assert_eq!(settings.ttl_not_found, Duration::from_secs(5));
    assert_eq!(settings.cache_max_bytes, 256 * 1024 * 1024);
    assert_eq!(settings.upstream_max_body, 8 * 1024 * 1024);
}

#[test]
fn the_file_sets_what_flags_do_not() {
    let file = config_file("ttl-active = \"30s\"\ncache_max_bytes = \"64MiB\"\ndemo = true\n");
    let settings = load(&["--config", file.path(), "--ttl-settled", "1h"]).unwrap();
    assert_eq!(settings.ttl_active, Duration::from_secs(30));
    assert_eq!(settings.cache_max_bytes, 64 * 1024 * 1024);
    assert_eq!(settings.ttl_settled, Duration::from_secs(3600));
    assert!(settings.demo);
}

#[test]
fn a_flag_wins_over_the_file() {
    let file = config_file("ttl-active = \"30s\"\n");
    let settings = load(&["--demo", "--config", file.path(), "--ttl-active", "2s"]).unwrap();
    assert_eq!(settings.ttl_active, Duration::from_secs(2));
}

#[test]
fn an_unknown_file_key_is_named() {
    let file = config_file("ttl-forever = \"1s\"\n");
    let error = load(&["--config", file.path()]).unwrap_err().to_string();
    assert!(error.contains("unknown setting 'ttl-forever'"), "{error}");
}

#[test]
fn a_bad_file_value_names_the_setting() {
    let file = config_file("ttl-active = \"soon\"\n");
    let error = load(&["--demo", "--config", file.path()])
        .unwrap_err()
        .to_string();
    assert!(error.contains("--ttl-active"), "{error}");
}

#[test]
fn a_missing_file_is_an_error() {
    let error = load(&["--config", "/nonexistent/gateway.toml"]).unwrap_err();
    assert!(matches!(error, ConfigError::File { .. }), "{error}");
}

#[test]
fn zero_timeouts_and_attempts_are_refused() {
    let error = load(&["--demo", "--upstream-timeout", "0s"])
        .unwrap_err()
        .to_string();
    assert!(error.contains("--upstream-timeout"), "{error}");
    let error = load(&["--demo", "--upstream-attempts", "0"])
        .unwrap_err()
        .to_string();
    assert!(error.contains("--upstream-attempts"), "{error}");
}

#[test]
fn without_demo_an_upstream_is_required() {
    let settings = load(&[]).unwrap();
    let Err(error) = settings.upstream_choice() else {
        panic!("expected an error");
    };
    assert!(error.to_string().contains("--upstream"), "{error}");
}

#[test]
fn the_token_file_gives_the_token_and_never_shows_it() {
    let token = config_file("s3cret-token-value\nsecond line ignored\n");
    let settings = load(&[
        "--upstream",
        "http://127.0.0.1:1/api/v1",
        "--token-file",
        token.path(),
    ])
    .unwrap();
    let Ok(UpstreamChoice::Alumio { token, .. }) = settings.upstream_choice() else {
        panic!("expected an upstream");
    };
    assert!(!format!("{token:?}").contains("s3cret"));
    use secrecy::ExposeSecret;
    assert_eq!(token.expose_secret(), "s3cret-token-value");
}

#[test]
fn the_redis_url_never_shows_in_help_or_debug() {
    let mut command = Settings::command();
    let help = command.render_long_help().to_string();
    assert!(help.contains("--redis-url"));
    let settings = load(&["--demo", "--redis-url", "redis://gateway:hunter2@h:1"]).unwrap();
    assert!(!format!("{settings:?}").contains("hunter2"));
    let file = config_file("redis-url = \"redis://gateway:hunter2@h:1\"\n");
    let with_file =
        file::apply_file_defaults(Settings::command(), std::path::Path::new(file.path()))
            .unwrap()
            .render_long_help()
            .to_string();
    assert!(!with_file.contains("hunter2"), "{with_file}");
}

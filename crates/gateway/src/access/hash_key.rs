//! `alumio-gateway hash-key`: prints the `key-sha256` line of a consumers file for a key read
//! from standard input (never from the command line, where `ps` and shell history would keep
//! it), or for a new random key with `--generate`.

use std::ffi::OsString;
use std::io::{BufRead, Read, Write};

use super::digest::{MAX_SECRET_LEN, SecretDigest, secret_problem};
use crate::config::ConfigError;
use crate::hex;

const USAGE: &str = "\
Usage: alumio-gateway hash-key [--generate]

Reads a consumer key from standard input (one line) and prints the line to put in the
consumers file:    key-sha256 = \"<hex>\"
The key must be 16 to 1024 visible ASCII characters, without spaces.

  --generate   make a new random key (256 bits) and print it, then its key-sha256 line;
               hand the key to the consumer and store only the hash
  -h, --help   print this help

Example:  printf '%s' \"$KEY\" | alumio-gateway hash-key
";

/// Runs `hash-key` with `args` (those after `hash-key`), reading a key from `input` and
/// writing to `output`.
pub fn hash_key_command(
    args: &[OsString],
    input: &mut dyn BufRead,
    output: &mut dyn Write,
) -> Result<(), ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        setting: "hash-key",
        reason,
    };
    let written = |result: std::io::Result<()>| {
        result.map_err(|error| invalid(format!("cannot write the output: {error}")))
    };
    match args {
        [] => {
            let key = read_key(input).map_err(invalid)?;
            let digest = SecretDigest::of(key.as_bytes());
            written(writeln!(output, "key-sha256 = \"{}\"", digest.to_hex()))
        }
        [flag] if flag == "--generate" => {
            let key = random_key().map_err(|error| {
                invalid(format!("cannot read randomness from the system: {error}"))
            })?;
            let digest = SecretDigest::of(key.as_bytes());
            written(writeln!(output, "key = \"{key}\""))?;
            written(writeln!(output, "key-sha256 = \"{}\"", digest.to_hex()))
        }
        [flag] if flag == "--help" || flag == "-h" => written(output.write_all(USAGE.as_bytes())),
        _ => Err(invalid(
            "takes the key on standard input, or --generate; see 'alumio-gateway hash-key --help'"
                .into(),
        )),
    }
}

fn read_key(input: &mut dyn BufRead) -> Result<String, String> {
    let mut line = Vec::new();
    // One byte more than the longest key, and its line end, tells a long key from a full one.
    let limit = u64::try_from(MAX_SECRET_LEN + 3).unwrap_or(u64::MAX);
    input
        .take(limit)
        .read_until(b'\n', &mut line)
        .map_err(|error| format!("cannot read the key from standard input: {error}"))?;
    let key = line.strip_suffix(b"\n").unwrap_or(&line);
    let key = key.strip_suffix(b"\r").unwrap_or(key);
    if let Some(problem) = secret_problem(key) {
        return Err(format!("the key {problem}"));
    }
    String::from_utf8(key.to_vec()).map_err(|_| "the key must be ASCII".into())
}

/// 32 bytes from the operating system's random source, as 64 hexadecimal digits.
fn random_key() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(hex::encode(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str], input: &str) -> Result<String, ConfigError> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let mut output = Vec::new();
        hash_key_command(&args, &mut input.as_bytes(), &mut output)?;
        Ok(String::from_utf8(output).unwrap())
    }

    #[test]
    fn a_key_from_standard_input_gets_its_hash_line() {
        let key = "erp-key-0123456789abcdef";
        let expected = format!(
            "key-sha256 = \"{}\"\n",
            SecretDigest::of(key.as_bytes()).to_hex()
        );
        assert_eq!(run(&[], &format!("{key}\n")).unwrap(), expected);
        assert_eq!(run(&[], &format!("{key}\r\n")).unwrap(), expected);
        assert_eq!(run(&[], key).unwrap(), expected);
    }

    #[test]
    fn a_short_key_is_refused_without_being_echoed() {
        let error = run(&[], "tiny-key\n").unwrap_err().to_string();
        assert!(error.contains("shorter than 16"), "{error}");
        assert!(!error.contains("tiny-key"), "{error}");
    }

    #[test]
    fn a_generated_key_matches_its_hash() {
        let output = run(&["--generate"], "").unwrap();
        let mut lines = output.lines();
        let key = lines.next().unwrap().strip_prefix("key = \"").unwrap();
        let key = key.strip_suffix('"').unwrap();
        assert_eq!(key.len(), 64);
        let hash = lines.next().unwrap();
        assert_eq!(
            hash,
            format!(
                "key-sha256 = \"{}\"",
                SecretDigest::of(key.as_bytes()).to_hex()
            )
        );
        assert_ne!(run(&["--generate"], "").unwrap(), output, "keys are random");
    }

    #[test]
    fn a_key_on_the_command_line_is_refused() {
        assert!(run(&["erp-key-0123456789abcdef"], "").is_err());
    }
}

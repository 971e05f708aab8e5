//! The `--config` TOML file: its keys become the defaults of the matching flags, so flags and
//! environment variables still win over it.

use std::path::Path;

use clap::Command;

use super::ConfigError;

/// Settings that must not come from a file that may be shared or committed.
const NOT_FROM_FILE: &[&str] = &["config"];

/// Sets each key of the file at `path` as the default of the flag with that long name.
pub(super) fn apply_file_defaults(
    mut command: Command,
    path: &Path,
) -> Result<Command, ConfigError> {
    let file_error = |reason: String| ConfigError::File {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|error| file_error(error.to_string()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|error: toml::de::Error| file_error(error.message().to_owned()))?;
    for (key, value) in table {
        let long = key.replace('_', "-");
        let id = command
            .get_arguments()
            .find(|arg| {
                arg.get_long() == Some(long.as_str()) && !NOT_FROM_FILE.contains(&long.as_str())
            })
            .map(|arg| arg.get_id().clone())
            .ok_or_else(|| file_error(format!("unknown setting '{key}'")))?;
        let text = match value {
            toml::Value::String(text) => text,
            toml::Value::Integer(number) => number.to_string(),
            toml::Value::Boolean(flag) => flag.to_string(),
            other => {
                return Err(file_error(format!(
                    "setting '{key}' must be a string, integer or boolean, not {}",
                    other.type_str()
                )));
            }
        };
        command = command.mut_arg(id, |arg| arg.default_value(text));
    }
    Ok(command)
}

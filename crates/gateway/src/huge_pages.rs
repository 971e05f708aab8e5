//! Puts the heap on transparent huge pages, so that a lookup among a million cached entries
//! does not also pay a TLB miss and a page-table walk for each record, key and body it touches.
//!
//! With the kernel's THP mode at `madvise`, the usual default, memory gets 2 MiB pages only
//! where the program asks for them. glibc (2.35 and later) asks for its heap when it starts
//! with the tunable `glibc.malloc.hugetlb=1`, but only for its main arena: the arenas it gives
//! other threads stay on 4 KiB pages, and the runtime's worker threads are the ones that store
//! the bodies. `glibc.malloc.arena_max=1` sends every thread to the main arena. Tunables are
//! read once, as the process starts, so a gateway started without them executes itself again
//! at once, with the same arguments and the tunables set. A `GLIBC_TUNABLES` that whoever
//! started the gateway set is left alone, and `--huge-pages off` leaves the heap as it is.

use std::ffi::OsStr;

use crate::config::HugePages;

/// What the gateway sets in `GLIBC_TUNABLES` before executing itself again.
pub const TUNABLES: &str = "glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1";

/// The kernel's THP mode: the bracketed word, such as `always [madvise] never`.
const THP_ENABLED: &str = "/sys/kernel/mm/transparent_hugepage/enabled";

/// What became of the heap's pages, for one line in the log once logging is set up.
#[derive(Debug)]
pub enum HeapPages {
    /// Started with [`TUNABLES`]: glibc asks for huge pages for the whole heap.
    Huge,
    /// `--huge-pages off`.
    TurnedOff,
    /// `GLIBC_TUNABLES` was set by whoever started the gateway, and is theirs to decide.
    OperatorTunables,
    /// The kernel's THP mode (`always`, `never`, or none when it has no THP) leaves nothing for
    /// glibc to ask for.
    KernelDecides(Option<String>),
    /// The binary does not use glibc, whose tunables these are.
    NotGlibc,
    /// Executing itself again failed, so the heap stays on 4 KiB pages.
    RespawnFailed(std::io::Error),
}

impl HeapPages {
    /// Says in the log what the heap runs on: at `info` when huge pages were asked for, at
    /// `warn` when asking failed, and at `debug` when there was nothing to ask.
    pub fn log(&self) {
        match self {
            Self::Huge => {
                tracing::info!("heap on transparent huge pages (GLIBC_TUNABLES={TUNABLES})");
            }
            Self::RespawnFailed(error) => tracing::warn!(
                "could not restart with glibc's huge-page tunables; the heap stays on 4 KiB pages: {error}"
            ),
            other => tracing::debug!(outcome = ?other, "heap left on the kernel's default pages"),
        }
    }
}

/// Decides, and when huge pages are worth asking for executes the gateway again with
/// [`TUNABLES`]: then this returns only if that failed. Call it first thing, before any thread
/// is started.
pub fn prepare(setting: HugePages) -> HeapPages {
    let tunables = std::env::var_os("GLIBC_TUNABLES");
    let mode = thp_mode();
    match plan(setting, tunables.as_deref(), mode.as_deref(), GLIBC) {
        Plan::Respawn => HeapPages::RespawnFailed(respawn()),
        Plan::Keep(outcome) => outcome,
    }
}

const GLIBC: bool = cfg!(all(target_os = "linux", target_env = "gnu"));

#[derive(Debug)]
enum Plan {
    Respawn,
    Keep(HeapPages),
}

/// The decision alone, from what the process was started with and what the kernel does.
fn plan(setting: HugePages, tunables: Option<&OsStr>, thp_mode: Option<&str>, glibc: bool) -> Plan {
    let outcome = match tunables {
        Some(tunables) if tunables == TUNABLES => HeapPages::Huge,
        Some(_) => HeapPages::OperatorTunables,
        None if setting == HugePages::Off => HeapPages::TurnedOff,
        None if !glibc => HeapPages::NotGlibc,
        None if thp_mode == Some("madvise") => return Plan::Respawn,
        None => HeapPages::KernelDecides(thp_mode.map(str::to_owned)),
    };
    Plan::Keep(outcome)
}

fn thp_mode() -> Option<String> {
    let modes = std::fs::read_to_string(THP_ENABLED).ok()?;
    bracketed(&modes).map(str::to_owned)
}

fn bracketed(modes: &str) -> Option<&str> {
    let (_, rest) = modes.split_once('[')?;
    rest.split_once(']').map(|(mode, _)| mode)
}

/// Replaces this process (same pid, same arguments) with the gateway under [`TUNABLES`];
/// returns only why that could not be done.
#[cfg(unix)]
fn respawn() -> std::io::Error {
    use std::os::unix::process::CommandExt;

    let mut args = std::env::args_os();
    let program = match std::env::current_exe() {
        Ok(program) => program,
        Err(error) => return error,
    };
    let mut command = std::process::Command::new(program);
    if let Some(name) = args.next() {
        command.arg0(name);
    }
    command.args(args).env("GLIBC_TUNABLES", TUNABLES).exec()
}

#[cfg(not(unix))]
fn respawn() -> std::io::Error {
    std::io::Error::from(std::io::ErrorKind::Unsupported)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(
        setting: HugePages,
        tunables: Option<&str>,
        mode: Option<&str>,
        glibc: bool,
    ) -> String {
        format!("{:?}", plan(setting, tunables.map(OsStr::new), mode, glibc))
    }

    #[test]
    fn a_glibc_gateway_on_a_madvise_kernel_executes_itself_again_once() {
        let first = outcome(HugePages::Auto, None, Some("madvise"), true);
        assert_eq!(first, "Respawn");
        let again = outcome(HugePages::Auto, Some(TUNABLES), Some("madvise"), true);
        assert_eq!(again, "Keep(Huge)");
    }

    #[test]
    fn the_operators_tunables_and_off_are_left_alone() {
        let theirs = outcome(
            HugePages::Auto,
            Some("glibc.malloc.arena_max=4"),
            Some("madvise"),
            true,
        );
        assert_eq!(theirs, "Keep(OperatorTunables)");
        assert_eq!(
            outcome(HugePages::Off, None, Some("madvise"), true),
            "Keep(TurnedOff)"
        );
    }

    #[test]
    fn nothing_is_asked_where_the_kernel_or_the_libc_decides() {
        let always = outcome(HugePages::Auto, None, Some("always"), true);
        assert_eq!(always, r#"Keep(KernelDecides(Some("always")))"#);
        assert_eq!(
            outcome(HugePages::Auto, None, None, true),
            "Keep(KernelDecides(None))"
        );
        assert_eq!(
            outcome(HugePages::Auto, None, Some("madvise"), false),
            "Keep(NotGlibc)"
        );
    }

    #[test]
    fn the_thp_mode_is_the_bracketed_word() {
        assert_eq!(bracketed("always [madvise] never\n"), Some("madvise"));
        assert_eq!(bracketed("[always] madvise never"), Some("always"));
        assert_eq!(bracketed("always madvise never"), None);
    }
}

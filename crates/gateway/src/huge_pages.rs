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
//!
//! glibc 2.35 and 2.36 (Debian 12, Ubuntu 22.04) read the kernel's THP mode into a buffer they
//! do not terminate, so whether the tunable takes depends on a stale byte of the stack, which
//! differs from one start to the next: seen here, about one start in two missed them. So a start
//! with the tunables checks that glibc took them (its heap mapping carries the kernel's `hg`
//! flag once it has grown) and executes itself again when it did not, up to [`MAX_STARTS`].

use std::ffi::OsStr;

use crate::config::HugePages;

/// What the gateway sets in `GLIBC_TUNABLES` before executing itself again.
pub const TUNABLES: &str = "glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1";

/// The kernel's THP mode: the bracketed word, such as `always [madvise] never`.
const THP_ENABLED: &str = "/sys/kernel/mm/transparent_hugepage/enabled";

/// How many starts with [`TUNABLES`] the gateway makes before it leaves the heap on 4 KiB pages.
/// Each start takes milliseconds; with one start in two missing, 24 all miss about once in
/// sixteen million.
pub const MAX_STARTS: u32 = 24;

/// The starts made so far, counted in the environment of the next one.
const STARTS_VAR: &str = "ALUMIO_GATEWAY_HEAP_STARTS";

/// The heap growth that shows whether glibc asks for huge pages: blocks below glibc's mmap
/// threshold (128 KiB), enough of them to take the heap past a 2 MiB boundary and through a
/// whole 2 MiB step, which is the first growth glibc asks for.
const PROBE_BLOCK_BYTES: usize = 64 * 1024;
const PROBE_BLOCKS: usize = 72;

/// What became of the heap's pages, for one line in the log once logging is set up.
#[derive(Debug)]
pub enum HeapPages {
    /// Started with [`TUNABLES`], which glibc took on this start (counting from 1): it asks for
    /// huge pages as it grows the heap.
    Huge {
        /// Starts with the tunables it took, this one included.
        starts: u32,
    },
    /// glibc ignored [`TUNABLES`] on each of this many starts, so the heap stays on 4 KiB pages.
    GlibcIgnoredTunables {
        /// Starts made with the tunables.
        starts: u32,
    },
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
            Self::Huge { starts } => tracing::info!(
                starts,
                "heap on transparent huge pages (GLIBC_TUNABLES={TUNABLES})"
            ),
            Self::GlibcIgnoredTunables { starts } => tracing::warn!(
                starts,
                "glibc ignored GLIBC_TUNABLES={TUNABLES} on every start (glibc 2.35 and 2.36 \
                 misread the kernel's THP mode at random); the heap stays on 4 KiB pages"
            ),
            Self::RespawnFailed(error) => tracing::warn!(
                "could not restart with glibc's huge-page tunables; the heap stays on 4 KiB pages: {error}"
            ),
            other => tracing::debug!(outcome = ?other, "heap left on the kernel's default pages"),
        }
    }
}

/// Decides, and when huge pages are worth asking for executes the gateway again with
/// [`TUNABLES`], until glibc takes them or [`MAX_STARTS`] are made: then this returns only if
/// executing failed. Call it first thing, before any thread is started.
pub fn prepare(setting: HugePages) -> HeapPages {
    let tunables = std::env::var_os("GLIBC_TUNABLES");
    let mode = thp_mode();
    // This start's number among those under the tunables: 0 without them, 1 when whoever
    // started the gateway set them.
    let start = std::env::var(STARTS_VAR)
        .ok()
        .and_then(|start| start.parse().ok())
        .unwrap_or(u32::from(tunables.is_some()));
    let checked = match plan(setting, tunables.as_deref(), mode.as_deref(), GLIBC) {
        Plan::Respawn => None,
        Plan::Check => checked(start, heap_takes_huge_pages),
        Plan::Keep(outcome) => Some(outcome),
    };
    checked.unwrap_or_else(|| HeapPages::RespawnFailed(respawn(start + 1)))
}

/// What start number `start`, under the tunables, comes to once `took` says whether glibc took
/// them: `None` when the gateway should start again.
fn checked(start: u32, took: impl FnOnce() -> bool) -> Option<HeapPages> {
    if took() {
        Some(HeapPages::Huge { starts: start })
    } else if start < MAX_STARTS {
        None
    } else {
        Some(HeapPages::GlibcIgnoredTunables { starts: start })
    }
}

/// Whether glibc asks for huge pages for its heap: grows the heap by a few megabytes, then
/// looks for the kernel's `hg` flag on the heap's mapping.
fn heap_takes_huge_pages() -> bool {
    let growth: Vec<Vec<u8>> = (0..PROBE_BLOCKS)
        .map(|_| vec![1; PROBE_BLOCK_BYTES])
        .collect();
    std::hint::black_box(&growth);
    let mappings = std::fs::read_to_string("/proc/self/smaps");
    drop(growth);
    mappings.is_ok_and(|mappings| heap_is_marked_for_huge_pages(&mappings))
}

/// Whether a `[heap]` mapping of `/proc/<pid>/smaps` carries the `hg` (`MADV_HUGEPAGE`) flag.
pub fn heap_is_marked_for_huge_pages(smaps: &str) -> bool {
    let mut in_heap = false;
    for line in smaps.lines() {
        if let Some(flags) = line.strip_prefix("VmFlags:") {
            if in_heap && flags.split_whitespace().any(|flag| flag == "hg") {
                return true;
            }
        } else if is_mapping_line(line) {
            in_heap = line.trim_end().ends_with("[heap]");
        }
    }
    false
}

/// A mapping's first line starts with its address range, `start-end` in hex.
fn is_mapping_line(line: &str) -> bool {
    line.split_whitespace().next().is_some_and(|range| {
        range.contains('-') && range.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit())
    })
}

const GLIBC: bool = cfg!(all(target_os = "linux", target_env = "gnu"));

#[derive(Debug)]
enum Plan {
    /// Execute the gateway again under [`TUNABLES`].
    Respawn,
    /// Started under [`TUNABLES`]: see whether glibc took them.
    Check,
    Keep(HeapPages),
}

/// The decision alone, from what the process was started with and what the kernel does.
fn plan(setting: HugePages, tunables: Option<&OsStr>, thp_mode: Option<&str>, glibc: bool) -> Plan {
    let outcome = match tunables {
        Some(tunables) if tunables == TUNABLES => return Plan::Check,
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

/// Replaces this process (same pid, same arguments) with the gateway under [`TUNABLES`], as
/// start number `start`; returns only why that could not be done.
#[cfg(unix)]
fn respawn(start: u32) -> std::io::Error {
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
    command
        .args(args)
        .env("GLIBC_TUNABLES", TUNABLES)
        .env(STARTS_VAR, start.to_string())
        .exec()
}

#[cfg(not(unix))]
fn respawn(_start: u32) -> std::io::Error {
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
        assert_eq!(again, "Check");
    }

    #[test]
    fn a_start_whose_glibc_ignored_the_tunables_starts_again_up_to_the_limit() {
        let took = format!("{:?}", checked(3, || true));
        assert_eq!(took, "Some(Huge { starts: 3 })");
        assert!(
            checked(3, || false).is_none(),
            "a missed start starts again"
        );
        let last = format!("{:?}", checked(MAX_STARTS, || false));
        assert_eq!(
            last,
            format!("Some(GlibcIgnoredTunables {{ starts: {MAX_STARTS} }})")
        );
    }

    #[test]
    fn only_the_heaps_own_flags_say_whether_it_takes_huge_pages() {
        let smaps = |heap_flags: &str, other_flags: &str| {
            format!(
                "55c0a216a000-55c0a236a000 rw-p 00000000 00:00 0                          [heap]\n\
                 Size:               2048 kB\n\
                 VmFlags: {heap_flags}\n\
                 7f0c1c000000-7f0c1c021000 rw-p 00000000 00:00 0 \n\
                 Size:                132 kB\n\
                 VmFlags: {other_flags}\n"
            )
        };
        assert!(heap_is_marked_for_huge_pages(&smaps(
            "rd wr mr mw me ac hg",
            "rd wr"
        )));
        assert!(!heap_is_marked_for_huge_pages(&smaps(
            "rd wr mr mw me ac",
            "rd wr hg"
        )));
        assert!(!heap_is_marked_for_huge_pages(
            "Size: 4 kB\nVmFlags: rd wr hg\n"
        ));
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn a_heap_nobody_asked_huge_pages_for_is_found_unmarked() {
        // This test process was not started with the tunables, so glibc never asks unless the
        // kernel's mode is `always` (then the flag is not set either: nothing asked for it).
        let mode = thp_mode();
        if std::env::var_os("GLIBC_TUNABLES").is_none() && mode.is_some() {
            assert!(!heap_takes_huge_pages(), "THP mode {mode:?}");
        }
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

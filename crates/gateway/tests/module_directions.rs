//! The module directions of `docs/architecture.md`, checked: each module of `src/` may use
//! only modules of lower layers, so the modules cannot grow back into one circle. The layers
//! are read from the doc's table, so the doc and the check cannot drift apart.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Files of `src/` that are no module of the library's layers: the crate root declares every
/// module, and the binary uses the library by its public paths.
const NOT_LAYERED: &[&str] = &["lib.rs", "main.rs"];

#[test]
fn every_module_uses_only_modules_of_lower_layers() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(manifest.join("../../docs/architecture.md")).unwrap();
    let layers = layers_of(&doc);
    assert!(
        layers.len() > 10,
        "the layer table of docs/architecture.md was not found or is nearly empty: {layers:?}"
    );
    let src = manifest.join("src");
    let mut problems = Vec::new();
    for file in rust_files(&src) {
        let relative = file.strip_prefix(&src).unwrap();
        let relative_text = relative.to_string_lossy().replace('\\', "/");
        if NOT_LAYERED.contains(&relative_text.as_str()) {
            continue;
        }
        let module = module_of(relative);
        let Some(&own) = layers.get(module.as_str()) else {
            problems.push(format!(
                "src/{relative_text}: module `{module}` is in no layer of docs/architecture.md"
            ));
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for (line_number, used) in crate_uses(&text) {
            if used == module {
                continue;
            }
            match layers.get(used.as_str()) {
                None => problems.push(format!(
                    "src/{relative_text}:{line_number}: `crate::{used}` is in no layer of docs/architecture.md"
                )),
                Some(&theirs) if theirs >= own => problems.push(format!(
                    "src/{relative_text}:{line_number}: `{module}` (layer {own}) uses `crate::{used}` (layer {theirs}); a module may use only modules of lower layers"
                )),
                Some(_) => {}
            }
        }
    }
    assert!(
        problems.is_empty(),
        "modules import against the directions of docs/architecture.md:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checker_sees_a_back_import() {
    let layers = layers_of("| 1 | `state` | |\n| 0 | `fetch`, `entry` | |\n");
    assert_eq!(layers.get("state"), Some(&1));
    assert_eq!(layers.get("entry"), Some(&0));
    let text = "//! `crate::state` in a comment is no use.\nuse crate::{entry::X, state::AppState};\nfn f() { crate::fetch::go(); }\n";
    assert_eq!(
        crate_uses(text),
        vec![
            (2, "entry".to_owned()),
            (2, "state".to_owned()),
            (3, "fetch".to_owned())
        ]
    );
}

/// Module name to layer number, from the rows `| N | `a`, `b` | … |` of the doc's table.
fn layers_of(doc: &str) -> HashMap<String, usize> {
    let mut layers = HashMap::new();
    for row in doc.lines().filter_map(|line| line.trim().strip_prefix('|')) {
        let mut cells = row.split('|');
        let (Some(number), Some(modules)) = (cells.next(), cells.next()) else {
            continue;
        };
        let Ok(layer) = number.trim().parse::<usize>() else {
            continue;
        };
        for name in modules.split('`').skip(1).step_by(2) {
            layers.insert(name.to_owned(), layer);
        }
    }
    layers
}

/// The top-level module a file of `src/` belongs to: `fetch` for `fetch/mod.rs` and
/// `fetch/classify.rs`, `cache` for `cache.rs` and `cache/metrics.rs`.
fn module_of(relative: &Path) -> String {
    let first = relative.components().next().expect("a file has a path");
    let first = first.as_os_str().to_string_lossy();
    first.strip_suffix(".rs").unwrap_or(&first).to_owned()
}

/// Every `crate::<module>` a file's code names (comments aside), with its line number; a
/// `crate::{a::X, b}` group names each of its modules.
fn crate_uses(text: &str) -> Vec<(usize, String)> {
    let mut uses = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                // Only the top level of the group names modules.
                let mut depth = 0;
                let mut item_start = true;
                for (offset, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        ',' if depth == 0 => item_start = true,
                        c if item_start && depth == 0 && is_ident_start(c) => {
                            item_start = false;
                            uses.push((index + 1, ident_at(&group[offset..])));
                        }
                        _ => {}
                    }
                }
            } else {
                let name = ident_at(rest);
                if !name.is_empty() {
                    uses.push((index + 1, name));
                }
            }
        }
    }
    uses
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn ident_at(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/ is readable") {
            let path = entry.expect("src/ is readable").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

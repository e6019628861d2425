//! The house rules that no compiler checks: every source file says what
//! it owns in a `//!` header, `doc/design.md`'s file map names every file
//! of `src/`, and every `unsafe` block or impl has a `// SAFETY:` argument
//! just above it.

use std::fs;
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The path of `file` from the crate's root, with `/` separators.
fn relative(file: &Path) -> String {
    file.strip_prefix(root())
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn every_source_file_has_a_header() {
    let missing: Vec<String> = rust_files(&root().join("src"))
        .into_iter()
        .filter(|file| {
            let text = fs::read_to_string(file).unwrap();
            !text.trim_start().starts_with("//!")
        })
        .map(|file| relative(&file))
        .collect();
    assert!(
        missing.is_empty(),
        "files without a //! header: {missing:?}"
    );
}

#[test]
fn the_design_notes_map_every_source_file() {
    let design = fs::read_to_string(root().join("doc/design.md")).unwrap();
    let missing: Vec<String> = rust_files(&root().join("src"))
        .into_iter()
        .map(|file| relative(&file))
        .filter(|path| !design.contains(&format!("`{path}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "doc/design.md's file map does not name {missing:?}: add a line for each"
    );
}

#[test]
fn every_unsafe_block_says_why_it_holds() {
    let mut unexplained = Vec::new();
    for file in rust_files(&root().join("src")) {
        let text = fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (at, line) in lines.iter().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let is_unsafe = code.contains("unsafe {") || code.contains("unsafe impl");
            if !is_unsafe {
                continue;
            }
            // The argument is in the comment lines just above (or on the
            // line itself), possibly above the statement the block is in.
            let above = lines[at.saturating_sub(12)..=at].iter().rev();
            let explained = above
                .take_while(|l| !l.trim().is_empty() || l.contains("SAFETY"))
                .any(|l| l.contains("SAFETY:"));
            if !explained {
                unexplained.push(format!("{}:{}", relative(&file), at + 1));
            }
        }
    }
    assert!(
        unexplained.is_empty(),
        "unsafe code without a // SAFETY: comment above it: {unexplained:?}"
    );
}

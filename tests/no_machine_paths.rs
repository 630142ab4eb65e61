//! The repository keeps its own words: no tracked file names a path of the machine it was
//! written on (a home or root directory, a build farm, a checkout beside this one), and the
//! documents every reference points to are there: `README.md`, `docs/behaviour.md` (the
//! behaviour contract) and `docs/replay.md`.
//!
//! The files are those `git ls-files` lists from the crate root. Without `git` or without a
//! git checkout this test fails, saying so: a check that cannot run must not pass quietly.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Tracked files allowed to name a machine path, as paths from the crate root. Empty: add a
/// file here only with a reason written beside it.
const ALLOWED: &[&str] = &[];

/// The documents the rest of the repository points to.
const REQUIRED: &[&str] = &["README.md", "docs/behaviour.md", "docs/replay.md"];

/// What no tracked file may contain. Built from pieces so that this file does not name them.
fn forbidden() -> Vec<String> {
    let mut words: Vec<String> = ["work", "farm", "home", "root"]
        .iter()
        .map(|dir| format!("/{dir}/"))
        .collect();
    words.push(format!("..{}shared", '/'));
    words
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every tracked path, from the crate root. Panics (fails the test) when git cannot tell.
fn tracked_files(root: &Path) -> Vec<String> {
    assert!(
        root.join(".git").exists(),
        "{} is not a git checkout (no .git): this test reads the tracked files with \
         `git ls-files` and cannot run here; run it from a git clone of sesh",
        root.display()
    );
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["ls-files", "-z"])
        .output()
        .unwrap_or_else(|e| {
            panic!("could not run `git ls-files` ({e}): this test needs git on the PATH")
        });
    assert!(
        output.status.success(),
        "`git ls-files` failed in {} ({}): {}",
        root.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let files: Vec<String> = output
        .stdout
        .split(|&b| b == 0)
        .filter(|name| !name.is_empty())
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .collect();
    assert!(
        !files.is_empty(),
        "`git ls-files` listed no file in {}",
        root.display()
    );
    files
}

#[test]
fn no_tracked_file_names_a_machine_path() {
    let root = root();
    let words = forbidden();
    let mut found = Vec::new();
    let mut scanned = 0;
    for name in tracked_files(&root) {
        if ALLOWED.contains(&name.as_str()) {
            continue;
        }
        let path = root.join(&name);
        // A tracked file deleted from the work tree, a symlink or a submodule has no text
        // of its own to read here.
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_file() => {}
            _ => continue,
        }
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {name}: {e}"));
        if bytes.contains(&0) {
            continue; // binary
        }
        scanned += 1;
        let text = String::from_utf8_lossy(&bytes);
        for (number, line) in text.lines().enumerate() {
            for word in &words {
                if line.contains(word.as_str()) {
                    found.push(format!(
                        "{name}:{}: {word:?} in {:?}",
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(scanned > 0, "no tracked text file was scanned");
    assert!(
        found.is_empty(),
        "tracked files name machine paths (the repository must say things in its own \
         words):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_documents_references_point_to_are_there() {
    let root = root();
    let tracked = tracked_files(&root);
    for name in REQUIRED {
        assert!(
            root.join(name).is_file(),
            "{name} is missing: the README, the sources and the tests point to it"
        );
        assert!(
            tracked.iter().any(|t| t == name),
            "{name} is not tracked by git"
        );
    }
}

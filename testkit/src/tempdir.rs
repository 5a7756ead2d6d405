//! Fresh, empty directories for tests, unique per process and call, so that tests running in
//! parallel (and test processes running at once) never share one.
//!
//! A directory is named `{tag}-{pid}-{n}`: the caller's tag (the crate and the test, e.g.
//! `loadgen-merge`), the process id and a per-process counter. It is created new, never reused: a
//! directory of that name left by an earlier process with the same id is skipped. Nothing removes
//! it afterwards, so what a failed test wrote stays there to be read; a test that wants it gone
//! removes it itself.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// How many names are tried before giving up (each taken one was left by an earlier process).
const ATTEMPTS: u64 = 1000;

/// Counts the directories made by this process, so that each call gets a name of its own.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// A new empty directory under the system's temporary directory, named after `tag`.
///
/// Panics when it cannot be made, which fails the test that asked.
pub fn unique(tag: &str) -> PathBuf {
    unique_in(&std::env::temp_dir(), tag)
}

/// A new empty directory under `parent` (made first if missing), named after `tag`: for tests
/// whose tools must find their files somewhere else than the system's temporary directory.
///
/// Panics when it cannot be made, which fails the test that asked.
pub fn unique_in(parent: &Path, tag: &str) -> PathBuf {
    std::fs::create_dir_all(parent)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", parent.display()));
    let pid = std::process::id();
    for _ in 0..ATTEMPTS {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = parent.join(format!("{tag}-{pid}-{n}"));
        match std::fs::create_dir(&dir) {
            Ok(()) => return dir,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => panic!("cannot create {}: {e}", dir.display()),
        }
    }
    panic!(
        "{ATTEMPTS} directories named {tag}-{pid}-N already exist in {}",
        parent.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_call_gets_a_new_empty_directory_even_over_leftovers() {
        let parent = unique("testkit-tempdir");
        let a = unique_in(&parent, "t");
        std::fs::write(a.join("file"), "x").expect("write");
        // A leftover with the name the next call would take (an earlier process, same pid).
        let n = NEXT.load(Ordering::Relaxed);
        let leftover = parent.join(format!("t-{}-{n}", std::process::id()));
        std::fs::create_dir(&leftover).expect("leftover");
        std::fs::write(leftover.join("old"), "x").expect("write");
        let b = unique_in(&parent, "t");
        assert_ne!(a, b);
        assert_ne!(b, leftover);
        assert!(b.is_dir());
        assert_eq!(std::fs::read_dir(&b).expect("read").count(), 0, "empty");
        assert!(
            b.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("t-")),
            "{}",
            b.display()
        );
        std::fs::remove_dir_all(&parent).expect("clean up");
    }
}

//! A fuzz target's corpus (a directory of inputs, one file each), for tests that replay it on
//! stable with the checks the target makes.

use std::path::{Path, PathBuf};

/// Every file of the corpus directory `dir` with its bytes, sorted by path.
///
/// Panics when the directory or a file cannot be read, which fails the test that asked: the
/// corpus is part of the repository.
pub fn read(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| {
        panic!(
            "the fuzz corpus {} is in the repository: {e}",
            dir.display()
        )
    });
    let mut inputs: Vec<(PathBuf, Vec<u8>)> = entries
        .map(|entry| {
            let path = entry.expect("corpus entry").path();
            let data = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("corpus file {} unreadable: {e}", path.display()));
            (path, data)
        })
        .collect();
    inputs.sort();
    inputs
}

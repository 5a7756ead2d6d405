//! The fuzz targets' corpora of numbers and sums (`fuzz/corpus/`), replayed on stable in every
//! test run with the same oracles the targets use. The corpus of whole requests is replayed by
//! `tests/it/fuzz_corpus.rs`, through the app.
#![cfg(test)]

use std::path::{Path, PathBuf};

use super::{agrees_with_fsum, agrees_with_serde};

/// Every input of `target`'s corpus, with its path.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    testkit::corpus::read(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/corpus")
            .join(target),
    )
}

/// Runs `check` on every input of `target`'s corpus; returns the inputs.
fn replay(target: &str, check: fn(&[u8]) -> Result<(), String>) -> Vec<Vec<u8>> {
    let inputs = corpus(target);
    let failures: Vec<String> = inputs
        .iter()
        .filter_map(|(path, data)| {
            check(data)
                .err()
                .map(|why| format!("{}: {why}", path.display()))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    inputs.into_iter().map(|(_, data)| data).collect()
}

#[test]
fn every_body_in_the_corpus_is_read_as_serde_reads_it() {
    let inputs = replay("numbers_parse", agrees_with_serde);
    // The corpus covers both readers: bodies the service reads and ones it refuses.
    let with_numbers = inputs
        .iter()
        .filter(|body| crate::numbers::parse(body).is_ok_and(|n| !n.values.is_empty()))
        .count();
    assert!(inputs.len() >= 1000, "only {} corpus inputs", inputs.len());
    assert!(
        with_numbers >= 50,
        "only {with_numbers} inputs carry numbers"
    );
}

#[test]
fn every_sum_in_the_corpus_is_fsums_and_the_same_backwards() {
    let inputs = replay("exact_sum", agrees_with_fsum);
    assert!(inputs.len() >= 100, "only {} corpus inputs", inputs.len());
}

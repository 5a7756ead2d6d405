//! The fuzz target's corpus (`fuzz/corpus/numbers_parse`), replayed on stable in every test
//! run: each input is read by the service exactly as by serde_json alone, and an echoed array
//! is exactly what the answer writes (`service::numbers::agrees_with_serde`). The fuzzer
//! (`cargo +nightly fuzz run numbers_parse`, see `fuzz/Cargo.toml`) grows the corpus; inputs
//! that once broke the reader are kept in it.

use std::path::Path;

#[test]
fn every_fuzz_corpus_input_is_read_as_serde_reads_it() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/numbers_parse");
    let mut inputs = 0;
    let mut scanned = 0;
    let mut disagreements = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("the fuzz corpus is in the repository") {
        let path = entry.expect("corpus entry").path();
        let body = std::fs::read(&path).expect("corpus file readable");
        inputs += 1;
        if service::numbers::parse(&body).is_ok_and(|n| n.echo.is_some() || !n.values.is_empty()) {
            scanned += 1;
        }
        if let Err(why) = service::numbers::agrees_with_serde(&body) {
            disagreements.push(format!("{}: {why}", path.display()));
        }
    }
    // The corpus covers both readers: bodies the service accepts and ones it refuses.
    assert!(
        inputs >= 1000,
        "only {inputs} corpus inputs in {}",
        dir.display()
    );
    assert!(scanned >= 50, "only {scanned} inputs carry numbers");
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

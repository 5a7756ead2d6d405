//! The fuzz targets' corpora (`fuzz/corpus/`), replayed on stable in every test run with the
//! same checks the targets make. The fuzzer (`cargo +nightly fuzz run TARGET`, see
//! `fuzz/Cargo.toml`) grows them; an input that once broke a check also gets a unit test of
//! its own (`cargo fuzz cmin` may merge it away).

use std::path::{Path, PathBuf};

#[path = "../../../fuzz/fuzz_targets/http_case.rs"]
mod http_case;

/// Every input of `target`'s corpus, with its path.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    testkit::corpus::read(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/corpus")
            .join(target),
    )
}

#[actix_web::test]
async fn every_request_in_the_corpus_gets_a_well_formed_answer() {
    let inputs = corpus("requests");
    let target = http_case::Target::new().await;
    let mut failures = Vec::new();
    let mut decoded = 0;
    for (path, data) in &inputs {
        let Some(case) = http_case::decode(data) else {
            continue;
        };
        decoded += 1;
        if let Err(why) = target.check(case).await {
            failures.push(format!("{}: {why}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(decoded >= 100, "only {decoded} corpus requests");
}

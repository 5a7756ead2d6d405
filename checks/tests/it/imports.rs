//! Imports flow one way inside every crate of the workspace: no module imports another that
//! (directly or through others) imports it back, except a module and its own child.

use checks::imports;

/// Every crate with a library or binary of its own.
const CRATES: [&str; 8] = [
    "service", "loadgen", "canary", "gateway", "checks", "slo", "testkit", "trace",
];

#[test]
fn no_crate_has_an_import_cycle() {
    let root = checks::repo_root();
    let mut found = Vec::new();
    for krate in CRATES {
        let src = root.join(krate).join("src");
        let graph = imports::read_crate(&src)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", src.display()));
        assert!(
            graph.modules.len() > 1 || krate == "testkit",
            "{krate}: no modules read from {}",
            src.display()
        );
        for cycle in imports::cycles(&graph) {
            let edges: Vec<String> = cycle
                .iter()
                .map(|m| {
                    let deps = &graph.modules[m].1;
                    let inside: Vec<&str> = deps
                        .iter()
                        .filter(|d| cycle.contains(d))
                        .map(String::as_str)
                        .collect();
                    format!("{m} -> {}", inside.join(", "))
                })
                .collect();
            found.push(format!("{krate}: {}", edges.join("; ")));
        }
    }
    assert!(
        found.is_empty(),
        "import cycles (move the shared item into a module of its own that imports \
         neither side):\n{}",
        found.join("\n")
    );
}

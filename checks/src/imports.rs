//! One-way imports inside a crate: the file-level module graph of a crate's `src/`, and the
//! import cycles in it.
//!
//! A module depends on another when its code (comments left out) names a path into it:
//! `crate::a::b`, `super::x`, or an item of a `use crate::{a, b::c}` group. The dependency is
//! on the longest module prefix of the path, so `crate::report::json::write` is an edge to
//! `report::json` when that module has a file of its own. Edges into the crate root (`lib.rs`,
//! `main.rs`) are not counted: the root declares the modules and re-exports their items.
//! `#[cfg(test)]` child modules declared inline (`mod tests { … }`) are left out, so unit tests
//! may reach anywhere.
//!
//! A cycle is a strongly connected set of two or more modules. A module and its own child
//! (`mod.rs` using a type of a child that uses `super::` back) form a pair the house allows;
//! every other cycle is reported.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The module graph of one crate: each module (by path, `""` for the root) and the modules
/// it depends on.
#[derive(Debug, Default)]
pub struct ModuleGraph {
    /// Module path → (its file, the modules it depends on).
    pub modules: BTreeMap<String, (PathBuf, BTreeSet<String>)>,
}

/// Reads every `.rs` file under `src` (a crate's source directory) into its module graph.
pub fn read_crate(src: &Path) -> std::io::Result<ModuleGraph> {
    let mut files = Vec::new();
    collect(src, &mut files)?;
    let mut texts = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(src)
            .map_err(std::io::Error::other)?
            .with_extension("");
        let mut parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.last().is_some_and(|p| p == "mod") {
            parts.pop();
        }
        // `src/bin/*.rs` are crate roots of their own, not modules of the library.
        if parts.first().is_some_and(|p| p == "bin") {
            continue;
        }
        if parts == ["lib"] || parts == ["main"] {
            parts.clear();
        }
        let text = fs::read_to_string(&file)?;
        texts.push((parts.join("::"), file, text));
    }
    Ok(graph_of(texts))
}

/// The graph of the given modules: (module path, file, source text).
pub fn graph_of(sources: Vec<(String, PathBuf, String)>) -> ModuleGraph {
    let names: BTreeSet<String> = sources.iter().map(|(m, _, _)| m.clone()).collect();
    let mut graph = ModuleGraph::default();
    for (module, file, text) in sources {
        let code = without_inline_tests(&without_comments(&text));
        let mut deps = BTreeSet::new();
        for path in paths_in(&code) {
            let Some(absolute) = resolve(&module, &path) else {
                continue;
            };
            if let Some(target) = longest_module(&names, &absolute)
                && !target.is_empty()
                && target != module
            {
                deps.insert(target);
            }
        }
        graph.modules.insert(module, (file, deps));
    }
    graph
}

/// The cycles of `graph` that the house does not allow (see the module doc), each as its
/// modules in order.
pub fn cycles(graph: &ModuleGraph) -> Vec<Vec<String>> {
    strongly_connected(graph)
        .into_iter()
        .filter(|set| !(set.len() == 2 && is_parent_and_child(&set[0], &set[1])))
        .collect()
}

fn is_parent_and_child(a: &str, b: &str) -> bool {
    let parent = |m: &str| m.rsplit_once("::").map_or("", |(p, _)| p).to_owned();
    parent(a) == b || parent(b) == a
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// `text` without `//` comments (doc comments included) and `/* */` blocks; string literals
/// are kept as they are, which at worst adds an edge a string names.
fn without_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("//") {
            rest = after.find('\n').map_or("", |i| &after[i..]);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |i| &after[i + 2..]);
        } else if let Some(after) = rest.strip_prefix('"') {
            // Skip the literal so that `//` inside it (a URL) is not taken for a comment.
            let end = string_end(after);
            out.push('"');
            out.push_str(&after[..end]);
            rest = &after[end..];
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// The length of a string literal's rest up to and including its closing quote.
fn string_end(after_quote: &str) -> usize {
    let bytes = after_quote.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// `code` without the inline `#[cfg(test)] mod … { … }` blocks.
fn without_inline_tests(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "#[cfg(test)]".len()..];
        let trimmed = after.trim_start();
        let is_inline_mod = trimmed.starts_with("mod ")
            && trimmed
                .find(['{', ';'])
                .is_some_and(|i| trimmed.as_bytes()[i] == b'{');
        if !is_inline_mod {
            rest = after;
            continue;
        }
        let open = after.find('{').unwrap_or(after.len());
        let mut depth = 0usize;
        let mut end = after.len();
        for (i, c) in after[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Every path that starts with `crate::` or `super::` in `code`, as segments (a `{…}` group
/// yields one path per item).
fn paths_in(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    for keyword in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(found) = code[from..].find(keyword) {
            let at = from + found;
            from = at + keyword.len();
            let preceded_by_ident = at > 0
                && (bytes[at - 1].is_ascii_alphanumeric()
                    || bytes[at - 1] == b'_'
                    || bytes[at - 1] == b':');
            if preceded_by_ident {
                continue;
            }
            let head = vec![keyword.trim_end_matches(':').to_owned()];
            expand(head, &code[from..], &mut out);
        }
    }
    out
}

/// Reads the path's remaining segments from `rest` onto `prefix`, expanding one `{…}` group.
fn expand(mut prefix: Vec<String>, mut rest: &str, out: &mut Vec<Vec<String>>) {
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            for item in split_group(group) {
                let item = item.trim();
                if item.is_empty() || item == "self" {
                    continue;
                }
                expand(prefix.clone(), item, out);
            }
            return;
        }
        let len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if len == 0 {
            break;
        }
        let segment = &rest[..len];
        if segment == "super" && prefix.last().is_some_and(|p| p == "super") {
            prefix.push("super".to_owned());
        } else {
            prefix.push(segment.to_owned());
        }
        rest = &rest[len..];
        match rest.strip_prefix("::") {
            Some(after) => rest = after,
            None => break,
        }
    }
    out.push(prefix);
}

/// The top-level, comma-separated items of a `{…}` group's inside (up to its closing brace).
fn split_group(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..i]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    items
}

/// `path` (starting `crate` or `super`) as segments from the crate root, seen from `module`.
fn resolve(module: &str, path: &[String]) -> Option<Vec<String>> {
    let (first, rest) = path.split_first()?;
    if first == "crate" {
        return Some(rest.to_vec());
    }
    // `super` is the parent of the file's module (`a.rs` and `a/mod.rs` alike); inline child
    // modules, whose `super` would be the file's own module, are left out.
    let mut base: Vec<String> = if module.is_empty() {
        Vec::new()
    } else {
        module.split("::").map(str::to_owned).collect()
    };
    base.pop()?;
    let mut segments = rest.iter().peekable();
    while segments.peek().is_some_and(|s| *s == "super") {
        segments.next();
        base.pop()?;
    }
    base.extend(segments.cloned());
    Some(base)
}

/// The longest prefix of `path` that is one of `names`.
fn longest_module(names: &BTreeSet<String>, path: &[String]) -> Option<String> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|candidate| names.contains(candidate))
}

/// Tarjan's strongly connected components with two or more members.
fn strongly_connected(graph: &ModuleGraph) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a ModuleGraph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        let deps = s.graph.modules.get(v).map(|(_, d)| d);
        for w in deps.into_iter().flatten() {
            let w = w.as_str();
            if !s.graph.modules.contains_key(w) {
                continue;
            }
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut set = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                set.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if set.len() > 1 {
                set.sort();
                s.found.push(set);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in graph.modules.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.found.sort();
    state.found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(files: &[(&str, &str, &str)]) -> ModuleGraph {
        graph_of(
            files
                .iter()
                .map(|(m, f, t)| ((*m).to_owned(), PathBuf::from(f), (*t).to_owned()))
                .collect(),
        )
    }

    fn deps(g: &ModuleGraph, m: &str) -> Vec<String> {
        g.modules[m].1.iter().cloned().collect()
    }

    #[test]
    fn paths_groups_and_super_resolve_to_the_longest_module() {
        let g = graph(&[
            ("", "lib.rs", "pub mod a; pub mod b; pub mod c;"),
            ("a", "a/mod.rs", "use crate::{b::{X, Y}, c};\nmod d;"),
            (
                "a::d",
                "a/d.rs",
                "use super::super::c::Z; fn f() { super::g(); }",
            ),
            ("b", "b.rs", "fn f() -> crate::c::nested::Item { todo() }"),
            (
                "c",
                "c.rs",
                "// crate::a::X in a comment\n/* crate::b */ const S: &str = \"crate::a\";",
            ),
        ]);
        assert_eq!(deps(&g, "a"), ["b", "c"]);
        assert_eq!(deps(&g, "a::d"), ["a", "c"]);
        assert_eq!(deps(&g, "b"), ["c"]);
        // A string literal may name a path; comments never count.
        assert_eq!(deps(&g, "c"), ["a"]);
        assert!(deps(&g, "").is_empty());
    }

    #[test]
    fn a_cycle_of_three_is_found_and_a_parent_with_its_child_is_allowed() {
        let g = graph(&[
            ("a", "a.rs", "use crate::b::X;"),
            ("b", "b.rs", "use crate::c::Y;"),
            ("c", "c/mod.rs", "use crate::a::Z; mod t; use t::T;"),
            ("c::t", "c/t.rs", "use super::Y;"),
        ]);
        // `c::t` names `c` only through `super`, and `c` names its child with a relative
        // path (not counted); the pair would be allowed anyway.
        assert_eq!(cycles(&g), [["a", "b", "c"]]);
        let pair = graph(&[
            ("p", "p/mod.rs", "use crate::p::k::K;"),
            ("p::k", "p/k.rs", "use super::P;"),
        ]);
        assert!(cycles(&pair).is_empty());
        let siblings = graph(&[
            ("x", "x.rs", "use crate::y::Y;"),
            ("y", "y.rs", "use crate::x::X;"),
        ]);
        assert_eq!(cycles(&siblings), [["x", "y"]]);
    }

    #[test]
    fn inline_test_modules_and_edges_into_the_root_do_not_count() {
        let g = graph(&[
            ("", "lib.rs", "pub mod a; pub mod b; pub use a::A;"),
            (
                "a",
                "a.rs",
                "use crate::A; #[cfg(test)]\nmod tests { use crate::b::B; fn t() { let _ = {1}; } }",
            ),
            ("b", "b.rs", "use crate::a::A; #[cfg(test)] fn helper() {}"),
        ]);
        assert!(deps(&g, "a").is_empty());
        assert_eq!(deps(&g, "b"), ["a"]);
        assert!(cycles(&g).is_empty());
    }
}

//! The config file (`--config`): read with a size cap, parsed as TOML with the parser's error
//! recovery, and deserialized one key at a time, so that a syntax error, an unknown key or a
//! mistyped value does not hide the others: each becomes a [`FieldError`] with the file's line
//! and column. The position of every key is kept as well, so that [`crate::config`] can point at
//! the line of a value it refuses later.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::assertions::ExpectSpec;
use crate::probe_config::ProbeFile;
use crate::validation::{ConfigError, FieldError, Origin, Position, in_reading_order};

/// Largest config file read; a canary config is a few hundred bytes.
const MAX_BYTES: u64 = 1024 * 1024;

/// The config file's top level; every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// See `--target`.
    pub target: Option<String>,
    /// See `--environment`.
    pub environment: Option<String>,
    /// See `--api-key-env`.
    pub api_key_env: Option<String>,
    /// See `--key-header`.
    pub key_header: Option<String>,
    /// See `--namespace`.
    pub namespace: Option<String>,
    /// See `--sink`.
    pub sinks: Option<Vec<String>>,
    /// See `--timeout`.
    pub timeout: Option<String>,
    /// See `--retries`.
    pub retries: Option<i64>,
    /// See `--retry-backoff`.
    pub retry_backoff: Option<String>,
    /// See `--rate-limit`.
    pub rate_limit: Option<i64>,
    /// See `--rate-limit-window`.
    pub rate_limit_window: Option<String>,
    /// See `--storage-resolution`.
    pub storage_resolution: Option<i64>,
    /// See `--publish-timeout`.
    pub publish_timeout: Option<String>,
    /// See `--publish-retries`.
    pub publish_retries: Option<i64>,
    /// See `--cert-min-days`.
    pub cert_min_days: Option<f64>,
    /// See `--heartbeat-url`.
    pub heartbeat_url: Option<String>,
    /// See `--heartbeat-method`.
    pub heartbeat_method: Option<String>,
    /// See `--region-label`.
    pub region_label: Option<String>,
    /// See `--home-region`.
    pub home_region: Option<String>,
    /// The probes; without this table the default suite runs.
    pub probes: Option<Vec<ProbeFile>>,
}

/// A config file as far as it could be read.
#[derive(Debug)]
pub struct ConfigFile {
    /// The path as given, for messages.
    pub path: String,
    /// Every value that could be read; a key with a problem is left out.
    pub config: FileConfig,
    /// Syntax errors, unknown keys and mistyped values, in the order of the file.
    pub problems: Vec<FieldError>,
    /// Where each key is (`timeout`, `probes[1]`, `probes[1].expect.status`).
    positions: BTreeMap<String, Position>,
    /// Keys already reported, or left unread because a syntax error is on their line.
    reported: BTreeSet<String>,
    /// Whether the file has a syntax error.
    syntax_errors: bool,
}

impl ConfigFile {
    /// Where a later check's problem with `field` lies in this file, or `None` when it
    /// should not be reported: the field (or a table above it) was reported already, or a
    /// syntax error may have swallowed it (after a syntax error, a field the file does not
    /// hold may just be on the broken line).
    pub fn locate(&self, field: &str) -> Option<Origin> {
        if self.reported.iter().any(|r| is_within(field, r)) {
            return None;
        }
        if self.syntax_errors && !self.positions.contains_key(field) {
            return None;
        }
        // The field itself, else the nearest table above it (a missing key of a probe points
        // at the probe).
        let position = self
            .positions
            .iter()
            .filter(|(key, _)| is_within(field, key))
            .max_by_key(|(key, _)| key.len())
            .map(|(_, p)| *p);
        Some(Origin::File {
            path: self.path.clone(),
            position,
        })
    }
}

/// Whether `field` is `table` or lies below it (`probes[1].path` is within `probes[1]` and
/// `probes`, not within `probes[10]`).
fn is_within(field: &str, table: &str) -> bool {
    field
        .strip_prefix(table)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
}

/// Reads and parses the file; fails only when it cannot be read as text at all.
pub fn read(path: &Path) -> Result<ConfigFile, ConfigError> {
    use std::io::Read as _;
    let shown = path.display().to_string();
    // The cap applies to what is read, not to the metadata's length: a device such as
    // /dev/zero reports 0 and never ends.
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(ConfigError::Parse {
            path: shown,
            message: "larger than 1 MiB; a canary config is a few hundred bytes".into(),
        });
    }
    let text = String::from_utf8(bytes).map_err(|_| ConfigError::Parse {
        path: shown.clone(),
        message: "not UTF-8 text; a config file is TOML".into(),
    })?;
    Ok(parse(shown, &text))
}

/// Parses `text`, the contents of the file `path`.
pub fn parse(path: String, text: &str) -> ConfigFile {
    let (document, syntax) = DeTable::parse_recoverable(text);
    let mut reader = Reader {
        text,
        path,
        problems: Vec::new(),
        positions: BTreeMap::new(),
        reported: BTreeSet::new(),
        syntax_lines: BTreeSet::new(),
    };
    for error in &syntax {
        let offset = error.span().map_or(0, |s| s.start);
        // The parser's recovery often finds more errors on a broken line; the first says it.
        if reader.syntax_lines.insert(reader.position(offset).line) {
            let message = format!("TOML syntax error: {}", error.message());
            reader.problem("", message, offset);
        }
    }
    let config = reader.top(document.get_ref());
    let Reader {
        path,
        mut problems,
        positions,
        reported,
        ..
    } = reader;
    in_reading_order(&mut problems);
    ConfigFile {
        path,
        config,
        problems,
        positions,
        reported,
        syntax_errors: !syntax.is_empty(),
    }
}

/// Reading state: the text (for positions) and what was found so far.
struct Reader<'t> {
    text: &'t str,
    path: String,
    problems: Vec<FieldError>,
    positions: BTreeMap<String, Position>,
    reported: BTreeSet<String>,
    /// Lines with a syntax error: values on them are not read (the parser's recovery may
    /// have made them up).
    syntax_lines: BTreeSet<usize>,
}

impl Reader<'_> {
    fn position(&self, offset: usize) -> Position {
        let before = self.text.get(..offset).unwrap_or(self.text);
        Position {
            line: before.matches('\n').count() + 1,
            column: before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
        }
    }

    fn problem(&mut self, field: &str, message: String, offset: usize) {
        if !field.is_empty() {
            self.reported.insert(field.to_owned());
        }
        self.problems.push(FieldError {
            field: field.to_owned(),
            message,
            origin: Some(Origin::File {
                path: self.path.clone(),
                position: Some(self.position(offset)),
            }),
        });
    }

    /// Notes where `field` is; false when a syntax error on its lines makes it unreadable.
    fn note(&mut self, field: &str, key: &Spanned<impl Sized>, value: &Spanned<DeValue>) -> bool {
        let position = self.position(key.span().start);
        self.positions.insert(field.to_owned(), position);
        let value_span = value.span();
        let last_line = self.position(value_span.end).line;
        let readable = !value_span.is_empty()
            && !self
                .syntax_lines
                .iter()
                .any(|l| (position.line..=last_line).contains(l));
        if !readable {
            self.reported.insert(field.to_owned());
        }
        readable
    }

    /// The top level; `[[probes]]` is read table by table so that each probe's keys are
    /// reported by index.
    fn top(&mut self, table: &DeTable) -> FileConfig {
        let mut rest = table.clone();
        let probes = rest.remove_entry("probes");
        let mut config: FileConfig = self.by_key(&rest, "");
        let Some((key, value)) = probes else {
            return config;
        };
        if !self.note("probes", &key, &value) {
            return config;
        }
        match value.get_ref() {
            DeValue::Array(list) => {
                let mut probes = Vec::new();
                for (i, item) in list.iter().enumerate() {
                    let at = format!("probes[{i}]");
                    self.positions
                        .insert(at.clone(), self.position(item.span().start));
                    probes.push(match item.get_ref() {
                        DeValue::Table(t) => self.probe(t, &at),
                        _ => {
                            let message = format!(
                                "invalid type: {}, expected a table (one per [[probes]] header)",
                                item.get_ref().type_str()
                            );
                            self.problem(&at, message, item.span().start);
                            ProbeFile::default()
                        }
                    });
                }
                config.probes = Some(probes);
            }
            other => {
                let message = format!(
                    "invalid type: {}, expected tables, each under its own [[probes]] header",
                    other.type_str()
                );
                self.problem("probes", message, value.span().start);
            }
        }
        config
    }

    /// One probe table; its `expect` table is read key by key as well.
    fn probe(&mut self, table: &DeTable, at: &str) -> ProbeFile {
        let mut rest = table.clone();
        let expect = rest.remove_entry("expect");
        let mut probe: ProbeFile = self.by_key(&rest, at);
        if let Some((key, value)) = expect {
            let field = format!("{at}.expect");
            if self.note(&field, &key, &value) {
                match value.get_ref() {
                    DeValue::Table(t) => probe.expect = Some(self.by_key::<ExpectSpec>(t, &field)),
                    other => {
                        let message = format!(
                            "invalid type: {}, expected a table such as {{ status = [200] }}",
                            other.type_str()
                        );
                        self.problem(&field, message, value.span().start);
                    }
                }
            }
        }
        probe
    }

    /// Deserializes `T` (a struct whose fields are all optional) one key at a time: a bad
    /// key is reported and left out, and the rest is read.
    fn by_key<T: DeserializeOwned + Default>(&mut self, table: &DeTable, at: &str) -> T {
        let mut good = DeTable::new();
        for (key, value) in table.iter() {
            let name = key.get_ref().as_ref();
            let field = if at.is_empty() {
                name.to_owned()
            } else {
                format!("{at}.{name}")
            };
            if !self.note(&field, key, value) {
                continue;
            }
            let mut one = DeTable::new();
            one.insert(key.clone(), value.clone());
            match deserialize::<T>(one) {
                Ok(_) => {
                    good.insert(key.clone(), value.clone());
                }
                Err(e) => {
                    let offset = e.span().map_or(key.span().start, |s| s.start);
                    self.problem(&field, e.message().to_owned(), offset);
                }
            }
        }
        deserialize(good).unwrap_or_else(|e| {
            // Each key was read alone above; together they cannot fail, but if they do, the
            // table is reported rather than half read.
            let offset = e.span().map_or(0, |s| s.start);
            self.problem(at, e.message().to_owned(), offset);
            T::default()
        })
    }
}

fn deserialize<T: DeserializeOwned>(table: DeTable) -> Result<T, toml::de::Error> {
    T::deserialize(ValueDeserializer::from(Spanned::new(
        0..0,
        DeValue::Table(table),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        parse("c.toml".into(), text)
            .problems
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn every_unknown_key_and_mistyped_value_is_reported_with_its_line() {
        let got = problems(
            "target = 5\nretries = \"three\"\ntiemout = \"5s\"\n\
             [[probes]]\nname = \"a\"\nretires = 1\nexpect = { status = \"200\" }\n\
             [[probes]]\nname = 7\n",
        );
        assert_eq!(got.len(), 6, "{got:#?}");
        assert!(
            got[0].starts_with("c.toml:1:10: `target`: invalid type"),
            "{got:#?}"
        );
        assert!(
            got[1].starts_with("c.toml:2:11: `retries`: invalid type"),
            "{got:#?}"
        );
        assert!(
            got[2].starts_with("c.toml:3:1: `tiemout`: unknown field"),
            "{got:#?}"
        );
        assert!(
            got[3].starts_with("c.toml:6:1: `probes[0].retires`: unknown"),
            "{got:#?}"
        );
        assert!(
            got[4].starts_with("c.toml:7:21: `probes[0].expect.status`"),
            "{got:#?}"
        );
        assert!(
            got[5].starts_with("c.toml:9:8: `probes[1].name`"),
            "{got:#?}"
        );
    }

    #[test]
    fn good_keys_beside_bad_ones_are_read() {
        let file = parse(
            "c.toml".into(),
            "target = \"http://x\"\nretries = \"three\"\n[[probes]]\nname = \"a\"\npath = 5\n",
        );
        assert_eq!(file.config.target.as_deref(), Some("http://x"));
        assert_eq!(file.config.retries, None);
        let probes = file.config.probes.expect("probes read");
        assert_eq!(probes[0].name.as_deref(), Some("a"));
        assert_eq!(probes[0].path, None);
    }

    #[test]
    fn syntax_errors_are_listed_with_the_readable_fields_problems() {
        let file = parse(
            "c.toml".into(),
            "target = \"http://x\"\nretries = = 3\ntiemout = \"5s\"\ntimeout = \"5s\n",
        );
        let got: Vec<String> = file.problems.iter().map(ToString::to_string).collect();
        assert!(
            got[0].starts_with("c.toml:2:11: TOML syntax error"),
            "{got:#?}"
        );
        assert!(
            got.iter().any(|p| p.starts_with("c.toml:3:1: `tiemout`")),
            "{got:#?}"
        );
        assert!(got.iter().any(|p| p.starts_with("c.toml:4:")), "{got:#?}");
        assert_eq!(got.len(), 3, "one error per broken line: {got:#?}");
        // The values on broken lines are not read (the recovery makes them up).
        assert_eq!(file.config.retries, None);
        assert_eq!(file.config.timeout, None);
        // Later checks skip what the broken lines may have held, and point at what is there.
        assert_eq!(file.locate("retries"), None);
        assert_eq!(file.locate("environment"), None);
        assert!(matches!(
            file.locate("target"),
            Some(Origin::File {
                position: Some(Position { line: 1, column: 1 }),
                ..
            })
        ));
    }

    #[test]
    fn later_problems_point_at_the_key_or_its_probe() {
        let file = parse(
            "c.toml".into(),
            "target = \"x\"\n\n[[probes]]\nname = \"a\"\n\n[[probes]]\nname = \"b\"\npath = 1\n",
        );
        let line = |field: &str| match file.locate(field) {
            Some(Origin::File { position, .. }) => position.map(|p| p.line),
            other => panic!("{field}: {other:?}"),
        };
        assert_eq!(line("target"), Some(1));
        assert_eq!(
            line("probes[0].path"),
            Some(3),
            "a missing key: the probe's header"
        );
        assert_eq!(line("probes[1].name"), Some(7));
        assert_eq!(
            line("environment"),
            None,
            "not in the file: the file, no line"
        );
        assert_eq!(file.locate("probes[1].path"), None, "reported already");
    }

    #[test]
    fn probes_that_are_not_tables_keep_the_others_indexes() {
        let file = parse("c.toml".into(), "probes = [1, { name = \"b\" }]\n");
        let got: Vec<String> = file.problems.iter().map(ToString::to_string).collect();
        assert_eq!(got.len(), 1, "{got:#?}");
        assert!(
            got[0].starts_with("c.toml:1:11: `probes[0]`: invalid type: integer"),
            "{got:#?}"
        );
        let probes = file.config.probes.as_ref().expect("read");
        assert_eq!(probes[1].name.as_deref(), Some("b"));
        assert_eq!(file.locate("probes[0].path"), None);
        assert!(file.locate("probes[1].path").is_some());
    }
}

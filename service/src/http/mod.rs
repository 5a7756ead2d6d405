//! The service's HTTP machinery: the hand-made parts that replace framework and library parts
//! on the request path, each because a benchmark showed the replaced part costing CPU per
//! request (the measurements, and how to repeat them, are in `docs/performance.md`). The
//! domain modules (routes, handlers, the sum, errors, the origin guard, health) call the
//! functions here and never depend on how they work; nothing here depends on the domain.
//!
//! | module | replaces | why |
//! |---|---|---|
//! | [`serve`] | actix-web's `HttpServer` | it has no place to wrap each connection, which [`deadline`] needs |
//! | [`deadline`] | actix-http's keep-alive timer, and the request and write timeouts actix lacks | a deadline for every request and answer, not only the first head; a per-worker sweep instead of a timer per request |
//! | [`body`] | actix-web's `Bytes` extractor | the size limit and body timeout of our own errors, without copying a one-chunk body |
//! | [`chunked`] | actix-http's drain of an unread chunked body | a client trickling chunks after an early answer cannot hold the connection: it is closed instead |
//! | [`json_text`] | `serde_json::to_vec` on the answers and log lines | the same text, written straight into one buffer |
//! | [`log_json`] | `tracing-subscriber`'s JSON formatter | the same fields, no intermediate map; the access line written directly |
//! | [`log_writer`] | a locked write to stderr per line | lines handed to a writer thread that writes them in batches, so a request never waits for a write system call |
//! | [`histogram`] | `metrics-exporter-prometheus`' histograms | those timestamp every sample and queue it until the next scrape; here a sample is two atomic additions |
//! | [`clock`] | formatting the whole timestamp per answer and log line | the date and time of day cached per thread for the current second |
//! | [`client_ip`] | `format!` of the peer address | the access log's client address written without allocating |

pub mod body;
pub mod chunked;
pub mod client_ip;
pub mod clock;
pub mod deadline;
pub mod histogram;
pub mod json_text;
pub mod log_json;
pub mod log_writer;
pub mod serve;

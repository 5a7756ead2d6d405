//! The service's HTTP machinery: the hand-made parts that replace framework and library parts
//! on the request path, each because a benchmark showed the replaced part costing CPU per
//! request (the measurements, and how to repeat them, are in `docs/performance.md`), or because
//! it let a client hold a connection, make it read without bound or get answers the protocol
//! forbids. The domain modules (routes, handlers, the sum, errors, the origin guard, health)
//! call the functions here and never depend on how they work; nothing here depends on the
//! domain.
//!
//! | module | replaces | why |
//! |---|---|---|
//! | [`serve`] | actix-web's `HttpServer`, and actix-http's `100 Continue` for a body over the limit | it has no place to wrap each connection, which [`deadline`], [`budget`] and [`close`] need; actix sends `100 Continue` before the app sees the request, inviting a body the app then refuses |
//! | [`deadline`] | actix-http's keep-alive timer, and the request and write timeouts actix lacks | a deadline for every request and answer, not only the first head; a per-worker sweep instead of a timer per request |
//! | [`budget`] | nothing: actix-http's chunked decoder reads chunk-size lines, extensions and trailers without limit | the bytes a connection reads per request are bounded (twice `--max-body` plus 512 KiB: a body, as much again of framing, the head): past it the connection reads as closed, the body reader answers 413 and the connection closes |
//! | [`close`] | actix-http's keep-alive decision, taken from the request decoded last | a request with `Connection: close`, or a body left unread, ends the connection after its answer with nothing pipelined behind it answered (RFC 9112 §9.6) |
//! | [`answer_start`] | nothing: shared by [`deadline`] and [`budget`] | both tell an answer from an interim `1xx` by the first bytes written |
//! | [`body`] | actix-web's `Bytes` extractor | the size limit and body timeout of our own errors, without copying a one-chunk body |
//! | [`chunked`] | actix-http's drain of an unread chunked body | a client trickling chunks after an early answer cannot hold the connection: it is closed instead |
//! | [`json_text`] | `serde_json::to_vec` on the answers and log lines | the same text, written straight into one buffer |
//! | [`log_json`] | `tracing-subscriber`'s JSON formatter | the same fields, no intermediate map; the access line written directly |
//! | [`log_writer`] | a locked write to stderr per line | lines handed to a writer thread that writes them in batches, so a request never waits for a write system call |
//! | [`histogram`] | `metrics-exporter-prometheus`' histograms | those timestamp every sample and queue it until the next scrape; here a sample is two atomic additions |
//! | [`clock`] | formatting the whole timestamp per answer and log line | the date and time of day cached per thread for the current second |
//! | [`client_ip`] | `format!` of the peer address | the access log's client address written without allocating |
//! | [`server_span`] | nothing: an OpenTelemetry SDK's span kept alive through the request | a request's W3C trace context read (hostile values ignored), its ids for the log line, and its server span built once at the end, only when sampled, and queued for export without waiting |
//! | [`openmetrics`] | nothing: the exporter writes only the Prometheus text | OpenMetrics for a scraper that asks for it, the only format that carries the latency histogram's exemplars |

pub mod answer_start;
pub mod body;
pub mod budget;
pub mod chunked;
pub mod client_ip;
pub mod clock;
pub mod close;
pub mod deadline;
pub mod histogram;
pub mod json_text;
pub mod log_json;
pub mod log_writer;
pub mod openmetrics;
pub mod serve;
pub mod server_span;

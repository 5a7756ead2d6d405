//! Readiness and the shutdown sequence for rolling deploys: on SIGTERM or Ctrl-C readiness
//! turns 503 at once, everything is still served for the drain period (so the load balancer
//! can deregister the task), then the listener stops accepting and in-flight requests get
//! the shutdown timeout to finish.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::metrics::Metrics;

/// Whether the service wants new traffic; shared by the readiness endpoint and the gauge.
#[derive(Clone)]
pub struct Readiness {
    ready: Arc<AtomicBool>,
    metrics: Metrics,
}

impl Readiness {
    /// Starts ready.
    pub fn new(metrics: Metrics) -> Self {
        metrics.set_ready(true);
        Self {
            ready: Arc::new(AtomicBool::new(true)),
            metrics,
        }
    }

    /// Whether readiness should answer 200.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// Marks the start of shutdown: readiness answers 503 from now on.
    pub fn begin_shutdown(&self) {
        self.ready.store(false, Ordering::SeqCst);
        self.metrics.set_ready(false);
    }
}

/// Resolves on the first SIGTERM or Ctrl-C (SIGINT).
pub async fn signal() -> std::io::Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        tokio::select! {
            _ = term.recv() => Ok("SIGTERM"),
            _ = int.recv() => Ok("SIGINT"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await?;
        Ok("Ctrl-C")
    }
}

//! Multi-window, multi-burn-rate alerting as the Google SRE workbook sets it for a 30-day
//! budget: each alert fires when the budget burns at least `factor` times as fast as the SLO
//! allows over both a long window (the burn is real) and a short one (it is still going on, so
//! the alert resets soon after the burn stops).

/// How an alert is routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Someone is woken up.
    Page,
    /// Someone looks during working hours.
    Ticket,
}

impl Severity {
    /// The `severity` label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::Page => "page",
            Self::Ticket => "ticket",
        }
    }
}

/// One burn-rate alert: a factor over a long and a short window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Burn {
    /// Page or ticket.
    pub severity: Severity,
    /// How many times faster than sustainable the budget burns.
    pub factor: f64,
    /// The long window, in seconds.
    pub long_secs: u64,
    /// The short window, in seconds (a twelfth of the long one).
    pub short_secs: u64,
}

impl Burn {
    /// The share of a 30-day budget this alert has seen spent when it fires (over the long
    /// window): `factor × long / 30 d`.
    pub fn budget_spent(&self, window_secs: u64) -> f64 {
        self.factor * self.long_secs as f64 / window_secs as f64
    }
}

const MINUTE: u64 = 60;
const HOUR: u64 = 3600;
const DAY: u64 = 86_400;

/// The workbook's four alerts: 2% of the budget in an hour or 5% in six hours pages; 10% in
/// a day or 10% in three days opens a ticket.
pub const BURNS: [Burn; 4] = [
    Burn {
        severity: Severity::Page,
        factor: 14.4,
        long_secs: HOUR,
        short_secs: 5 * MINUTE,
    },
    Burn {
        severity: Severity::Page,
        factor: 6.0,
        long_secs: 6 * HOUR,
        short_secs: 30 * MINUTE,
    },
    Burn {
        severity: Severity::Ticket,
        factor: 3.0,
        long_secs: DAY,
        short_secs: 2 * HOUR,
    },
    Burn {
        severity: Severity::Ticket,
        factor: 1.0,
        long_secs: 3 * DAY,
        short_secs: 6 * HOUR,
    },
];

/// The low-traffic guard: a page also needs at least this many bad events in its long window.
/// At night a handful of requests can make any error ratio look like a fast burn (one failure
/// in five requests is a 200x burn of a 99.9% SLO); five failures within the hour are no
/// longer a handful. A full outage at one request a minute pages within five minutes of the
/// first failure; slower traffic is covered by the canary's synthetic SLO, which probes every
/// minute. Tickets have no guard: they wake nobody.
pub const MIN_BAD_EVENTS_TO_PAGE: u64 = 5;

/// Every window an SLO's error ratio is recorded over: the burn windows, ascending.
pub fn windows() -> Vec<u64> {
    let mut windows: Vec<u64> = BURNS
        .iter()
        .flat_map(|b| [b.long_secs, b.short_secs])
        .collect();
    windows.sort_unstable();
    windows.dedup();
    windows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workbook_alerts_spend_the_workbook_budget_shares() {
        let thirty_days = 30 * DAY;
        let spent: Vec<f64> = BURNS
            .iter()
            .map(|b| (b.budget_spent(thirty_days) * 1000.0).round() / 1000.0)
            .collect();
        assert_eq!(spent, [0.02, 0.05, 0.1, 0.1]);
        for b in BURNS {
            assert_eq!(b.long_secs, b.short_secs * 12, "{b:?}");
        }
    }

    #[test]
    fn windows_are_the_distinct_burn_windows_ascending() {
        assert_eq!(windows(), [300, 1800, 3600, 7200, 21_600, 86_400, 259_200]);
    }
}

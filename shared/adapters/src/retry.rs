//! One backoff policy for every retry loop: the Graph client, the stores (contended conditional
//! writes, unprocessed batch keys, throttled transactions), the queue (refused batch entries)
//! and the admin API (optimistic re-reads).
//!
//! A loop asks the policy two things: whether attempt `n` may happen at all
//! ([`RetryPolicy::allows`]) and how long to wait before it ([`RetryPolicy::pause`]). Waits grow
//! as `base_delay * 2^n`, capped at `max_delay`; contended writers use the jittered form so
//! that two writers that collided once do not collide again in lockstep.

use std::time::Duration;

/// How hard a loop tries: `max_attempts` in total (first try included), waiting
/// `base_delay * 2^n` (at most `max_delay`) before retry n+1; `timeout` bounds each attempt
/// where the caller has one to bound (an HTTP request, connect to last byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    /// The Graph API's: three attempts, 200 ms then 400 ms apart, 8 s each.
    fn default() -> Self {
        RetryPolicy::GRAPH
    }
}

impl RetryPolicy {
    /// Calls to Meta's Graph API from the background (the worker's history sync, page-health):
    /// three attempts of 8 s, 200 ms then 400 ms apart, so one call ends within about 24.6 s,
    /// inside the worker's 30 s.
    pub const GRAPH: RetryPolicy = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(200),
        max_delay: Duration::from_secs(5),
        timeout: Duration::from_secs(8),
    };

    /// Graph calls made while a person waits (the admin API, Facebook Login's return): two
    /// attempts of 4 s, so one call ends within about 8.2 s, inside the admin API's 15 s and
    /// API Gateway's 30 s (`docs/facebook-login.md`, "Time budgets").
    pub const INTERACTIVE: RetryPolicy = RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(200),
        max_delay: Duration::from_secs(1),
        timeout: Duration::from_secs(4),
    };

    /// The Send API (`docs/rules.md`, "Replies"): a message must reach Meta at most once, so a
    /// send is retried only after an answer that proves nothing was sent (the connection never
    /// opened; a rate limit refused it), and everything, retries included, ends within
    /// `timeout` (8 s: inside the admin API's 15 s, with the store calls around it).
    pub const SEND: RetryPolicy = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(200),
        max_delay: Duration::from_secs(1),
        timeout: Duration::from_secs(8),
    };

    /// A conditional write or transaction that lost to a concurrent writer on the same item:
    /// read again and retry soon, many times (contention clears within milliseconds).
    pub const CONTENDED_WRITE: RetryPolicy = RetryPolicy {
        max_attempts: 25,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(200),
        timeout: Duration::from_secs(10),
    };

    /// A conversation header's touch: read, then create, move or update it conditionally on what
    /// was read. A lost condition is read again at once (the other writer has committed); a
    /// throttled, timed-out or faulted move pauses first. Eight attempts in all: touches of one
    /// conversation are few at a time (one per event), unlike a rule's turn counter.
    pub const HEADER_TOUCH: RetryPolicy = RetryPolicy {
        max_attempts: 8,
        base_delay: Duration::from_millis(40),
        max_delay: Duration::from_millis(500),
        timeout: Duration::from_secs(10),
    };

    /// DynamoDB answered with unprocessed keys or throttling: ask again a few times.
    pub const THROTTLED_READ: RetryPolicy = RetryPolicy {
        max_attempts: 6,
        base_delay: Duration::from_millis(25),
        max_delay: Duration::from_secs(1),
        timeout: Duration::from_secs(10),
    };

    /// SQS refused some entries of a batch for reasons of its own (not the entries' content).
    pub const QUEUE_ENTRIES: RetryPolicy = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_secs(1),
        timeout: Duration::from_secs(10),
    };

    /// An optimistic read-modify-write at the API edge (e.g. taking a member out of every rule)
    /// that saw a concurrent change: read again a few times before answering 409.
    pub const OPTIMISTIC: RetryPolicy = RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(200),
        timeout: Duration::from_secs(10),
    };

    /// Whether attempt `n` (0-based; attempt 0 is the first try) is within the budget.
    pub fn allows(&self, n: u32) -> bool {
        n < self.max_attempts.max(1)
    }

    /// The attempts the budget allows, 0-based: `for n in policy.attempts() { ... }`.
    pub fn attempts(&self) -> std::ops::Range<u32> {
        0..self.max_attempts.max(1)
    }

    /// The wait after failed attempt `n` (0-based): `base_delay * 2^n`, at most `max_delay`.
    pub fn backoff(&self, n: u32) -> Duration {
        self.base_delay.saturating_mul(1u32.checked_shl(n).unwrap_or(u32::MAX)).min(self.max_delay)
    }

    /// [`backoff`](Self::backoff) with "equal jitter": half fixed, half random, so that
    /// writers that collided once spread out instead of colliding again.
    pub fn jittered(&self, n: u32) -> Duration {
        let full = self.backoff(n);
        let half = full / 2;
        let r = u32::from(uuid::Uuid::new_v4().as_bytes()[0]);
        half + half.mul_f64(f64::from(r) / 255.0)
    }

    /// The longest a call under this budget can take: every attempt timing out, with the
    /// full waits between them.
    pub fn worst_case(&self) -> Duration {
        let attempts = self.max_attempts.max(1);
        let waits: Duration = (0..attempts - 1).map(|n| self.backoff(n)).sum();
        self.timeout.saturating_mul(attempts) + waits
    }

    /// Sleeps before retry `n + 1` after attempt `n` failed (jittered).
    pub async fn pause(&self, n: u32) {
        tokio::time::sleep(self.jittered(n)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            timeout: Duration::from_secs(1),
        };
        assert_eq!(p.backoff(0), Duration::from_millis(10));
        assert_eq!(p.backoff(1), Duration::from_millis(20));
        assert_eq!(p.backoff(2), Duration::from_millis(40));
        assert_eq!(p.backoff(3), Duration::from_millis(50));
        assert_eq!(p.backoff(200), Duration::from_millis(50));
    }

    #[test]
    fn graph_backoff_doubles() {
        let p = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(10),
            timeout: Duration::from_secs(1),
            ..RetryPolicy::GRAPH
        };
        assert_eq!(p.backoff(0), Duration::from_millis(10));
        assert_eq!(p.backoff(1), Duration::from_millis(20));
        assert_eq!(p.backoff(3), Duration::from_millis(80));
        assert!(p.backoff(200) >= Duration::from_secs(1));
    }

    #[test]
    fn jitter_stays_between_half_and_the_full_wait() {
        let p = RetryPolicy::CONTENDED_WRITE;
        for n in 0..10 {
            let w = p.jittered(n);
            assert!(w >= p.backoff(n) / 2 && w <= p.backoff(n), "attempt {n}: {w:?}");
        }
    }

    /// The functions' timeouts in template.yaml: the admin API 15 s, the worker 30 s; API
    /// Gateway ends a request at 30 s. One Graph call must fit well inside them.
    #[test]
    fn graph_budgets_fit_the_functions_that_use_them() {
        assert_eq!(RetryPolicy::INTERACTIVE.worst_case(), Duration::from_millis(8_200));
        assert!(RetryPolicy::INTERACTIVE.worst_case() < Duration::from_secs(15));
        assert_eq!(RetryPolicy::GRAPH.worst_case(), Duration::from_millis(24_600));
        assert!(RetryPolicy::GRAPH.worst_case() < Duration::from_secs(30));
    }

    #[test]
    fn the_budget_counts_the_first_try() {
        let p = RetryPolicy { max_attempts: 3, ..RetryPolicy::GRAPH };
        assert_eq!(p.attempts().collect::<Vec<_>>(), vec![0, 1, 2]);
        assert!(p.allows(2) && !p.allows(3));
        let zero = RetryPolicy { max_attempts: 0, ..RetryPolicy::GRAPH };
        assert!(zero.allows(0), "a zero budget still makes the one call");
    }
}

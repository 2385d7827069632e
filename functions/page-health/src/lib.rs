//! The scheduled health check (`docs/operations.md`, "Meta's rate limits and the health
//! check"). It sweeps every Page route a batch at a time, within a time budget per run, and
//! saves where it stopped so the next scheduled run continues; a complete sweep starts at most
//! every [`SweepSettings::interval`].
//!
//! Per Page (`check.rs`): is its token still valid with the permissions the product needs
//! (`debug_token`: `is_valid`, `scopes`, `expires_at`), is the app still subscribed to its
//! webhooks (`GET subscribed_apps`; Meta drops subscriptions after an hour of failed deliveries,
//! so a missing one is restored), and has it delivered any webhook lately. A dead token, a
//! missing permission or a refused re-subscription puts the Page in lost connection with the
//! reason; a Page in lost connection whose holder's token works again comes back.
//!
//! Meta's limit is shared with every other call of the app, so the sweep spends little of it:
//! a Page that delivered a webhook recently and was found healthy recently is skipped, and the
//! run stops (cursor saved) as soon as the Graph client refuses a call for high usage.

use std::sync::Arc;
use std::time::{Duration, Instant};

use adapters::facebook::Facebook;
use domain::ports::{PageStore, RouteHealth, StoreError};
use futures::StreamExt;
use tracing::{info, warn};

mod check;

use check::Verdict;

/// How many Pages are checked at once.
const CONCURRENCY: usize = 4;

/// The sweep's sizes and clocks (`HEALTH_*` variables, see `main.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepSettings {
    /// Routes read per batch.
    pub batch: usize,
    /// No new batch, and no new Page check, after this long in one run: well inside the
    /// Lambda timeout, which must also cover one Page's check begun just before.
    pub budget: Duration,
    /// How long a run's claim on the sweep lasts (at least the Lambda timeout, so a run that
    /// died is taken over by a later one, never by one overlapping it).
    pub claim: Duration,
    /// A new sweep starts at most this long after the previous one ended.
    pub interval: Duration,
    /// Skip rule: a webhook delivered within this long ...
    pub fresh_delivery: Duration,
    /// ... and a healthy check within this long.
    pub fresh_check: Duration,
    /// A token expiring within this long is flagged.
    pub expiry_warning: Duration,
}

impl Default for SweepSettings {
    fn default() -> Self {
        SweepSettings {
            batch: 50,
            budget: Duration::from_secs(180),
            claim: Duration::from_secs(330),
            interval: Duration::from_secs(30 * 60),
            fresh_delivery: Duration::from_secs(3600),
            fresh_check: Duration::from_secs(24 * 3600),
            expiry_warning: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

pub struct HealthCheck {
    /// The only port the check needs: the routes to walk, Page tokens, connection states, the
    /// sweep's progress.
    pub pages: Arc<dyn PageStore>,
    pub facebook: Arc<Facebook>,
    /// A connected Page silent for longer than this is flagged (`HEALTH_SILENCE_HOURS`).
    pub silence: Duration,
    pub sweep: SweepSettings,
}

/// Why a run ended.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The sweep is complete.
    #[default]
    Finished,
    /// The time budget is spent; the next run continues.
    Budget,
    /// The Graph client refused a call (usage high or Meta throttling); the next run continues.
    RateLimited,
    /// Another run holds the sweep, or the last sweep ended less than the interval ago.
    NotDue,
    /// This run's claim was taken over (it ran past it).
    ClaimLost,
}

impl Stop {
    pub fn as_str(self) -> &'static str {
        match self {
            Stop::Finished => "finished",
            Stop::Budget => "budget",
            Stop::RateLimited => "rate_limited",
            Stop::NotDue => "not_due",
            Stop::ClaimLost => "claim_lost",
        }
    }
}

/// What one run found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HealthReport {
    /// Pages whose check ran (connected or lost).
    pub checked: usize,
    /// Connected Pages skipped: a recent delivery and a recent healthy check.
    pub skipped: usize,
    pub healthy: usize,
    pub marked_lost: Vec<String>,
    /// Pages in lost connection that came back.
    pub recovered: Vec<String>,
    /// Pages in lost connection checked and still lost.
    pub still_lost: usize,
    pub resubscribed: Vec<String>,
    pub silent: Vec<String>,
    /// Tokens expiring within [`SweepSettings::expiry_warning`].
    pub expiring: Vec<String>,
    /// Pages whose check could not finish (Graph unreachable, rate limited): next run.
    pub unknown: Vec<String>,
    /// Tokens of unconnected Pages removed because they expired.
    pub tokens_expired: usize,
    /// The Page id after which this run started (`None`: at the first route).
    pub continued_from: Option<String>,
    /// Whether this run completed a sweep.
    pub finished_sweep: bool,
    pub stop: Stop,
    /// Batches read.
    pub batches: usize,
}

impl HealthCheck {
    pub fn new(pages: Arc<dyn PageStore>, facebook: Arc<Facebook>, silence: Duration) -> HealthCheck {
        HealthCheck { pages, facebook, silence, sweep: SweepSettings::default() }
    }

    /// One scheduled run: claims the sweep, checks batches until the sweep ends, the budget is
    /// spent or Meta's usage is high, and saves where it stopped.
    pub async fn run(&self) -> Result<HealthReport, StoreError> {
        let started = Instant::now();
        let now = domain::timefmt::now_ms();
        let run_id = domain::custody::new_id();
        let mut report = HealthReport::default();
        let until = now + ms(self.sweep.claim);
        let Some(sweep) = self.pages.claim_health_sweep(&run_id, now, until).await? else {
            info!("another run holds the health sweep; this one stops");
            report.stop = Stop::NotDue;
            return Ok(report);
        };
        let due = sweep.last_finished_ms.is_none_or(|t| now - t >= ms(self.sweep.interval));
        if sweep.cursor.is_none() && !due {
            self.pages.save_health_sweep(&run_id, None, sweep.last_finished_ms.unwrap_or(now), true).await?;
            report.stop = Stop::NotDue;
            return Ok(report);
        }
        // Tokens of Pages imported (or disconnected) and not connected since expire.
        report.tokens_expired = match self.pages.expire_tokens(now).await {
            Ok(n) => n,
            Err(e) => {
                warn!(error = %adapters::telemetry::error_chain(&e), "token sweep failed; next run");
                0
            }
        };
        report.continued_from =
            sweep.cursor.as_deref().and_then(|c| adapters::cursor::decode_route_cursor(c).ok());
        let mut cursor = sweep.cursor;
        report.stop = loop {
            if started.elapsed() >= self.sweep.budget {
                break Stop::Budget;
            }
            let page = match self.pages.list_routes_page(cursor.as_deref(), self.sweep.batch).await {
                Ok(p) => p,
                // A cursor of an older format: the sweep starts over rather than sticking.
                Err(StoreError::InvalidCursor) if cursor.is_some() => {
                    warn!("the health sweep's cursor is not readable; starting over");
                    cursor = None;
                    continue;
                }
                Err(e) => return Err(e),
            };
            report.batches += 1;
            let verdicts: Vec<Verdict> = futures::stream::iter(page.items.iter())
                .map(|r| self.check_in_budget(r, started))
                .buffered(CONCURRENCY)
                .collect()
                .await;
            let deferred = verdicts.iter().position(|v| matches!(v, Verdict::Deferred { .. }));
            let limited = verdicts.iter().any(|v| matches!(v, Verdict::Deferred { rate_limited: true }));
            for (r, v) in page.items.iter().zip(verdicts) {
                self.tally(&mut report, r, v, now);
            }
            // The next batch starts after the last Page checked in order: a Page deferred (and
            // every one after it) is checked by the next run.
            let next = match deferred {
                Some(0) => cursor.clone(),
                Some(i) => Some(adapters::cursor::route_cursor(&page.items[i - 1].route.page_id)),
                None => page.next_cursor.clone(),
            };
            let finished = deferred.is_none() && next.is_none();
            let save_at = domain::timefmt::now_ms();
            if !self.pages.save_health_sweep(&run_id, next.as_deref(), save_at, false).await? {
                warn!("the health sweep was taken over by another run; this one stops");
                break Stop::ClaimLost;
            }
            cursor = next;
            if finished {
                report.finished_sweep = true;
                break Stop::Finished;
            }
            if deferred.is_some() {
                break if limited { Stop::RateLimited } else { Stop::Budget };
            }
        };
        if report.stop != Stop::ClaimLost {
            let end = domain::timefmt::now_ms();
            if let Err(e) = self.pages.save_health_sweep(&run_id, cursor.as_deref(), end, true).await {
                // The claim lapses on its own; the cursor saved after the last batch stands.
                warn!(error = %adapters::telemetry::error_chain(&e), "could not release the health sweep");
            }
        }
        self.emit(&mut report);
        Ok(report)
    }

    /// One Page's check, unless the budget is spent.
    async fn check_in_budget(&self, r: &RouteHealth, started: Instant) -> Verdict {
        if started.elapsed() >= self.sweep.budget {
            return Verdict::Deferred { rate_limited: false };
        }
        self.check(r).await
    }

    fn tally(&self, report: &mut HealthReport, r: &RouteHealth, v: Verdict, now: i64) {
        let page = r.route.page_id.clone();
        if !matches!(v, Verdict::Skipped | Verdict::Deferred { .. }) {
            report.checked += 1;
        }
        // Silence costs no Graph call: flagged for skipped Pages too.
        if matches!(v, Verdict::Skipped | Verdict::Healthy { .. }) {
            let last = r.last_event_ms.or(r.connected_ms).unwrap_or(now);
            if now - last > ms(self.silence) {
                warn!(page_id = %page, tenant_id = %r.route.tenant_id, silent_hours = (now - last) / 3_600_000, "Page has delivered no webhook for longer than the silence threshold");
                report.silent.push(page.clone());
            }
        }
        match v {
            Verdict::Skipped => report.skipped += 1,
            Verdict::Healthy { resubscribed, expiring } => {
                report.healthy += 1;
                if resubscribed {
                    report.resubscribed.push(page.clone());
                }
                if expiring {
                    report.expiring.push(page);
                }
            }
            Verdict::Lost => report.marked_lost.push(page),
            Verdict::Recovered => report.recovered.push(page),
            Verdict::StillLost => report.still_lost += 1,
            Verdict::Unknown => report.unknown.push(page),
            Verdict::Deferred { .. } => {}
        }
    }

    fn emit(&self, report: &mut HealthReport) {
        report.marked_lost.sort();
        report.silent.sort();
        report.recovered.sort();
        report.resubscribed.sort();
        report.expiring.sort();
        report.unknown.sort();
        let f = ("Function", "page-health");
        adapters::telemetry::count("PagesMarkedLost", report.marked_lost.len() as u64, f);
        adapters::telemetry::count("PagesRecovered", report.recovered.len() as u64, f);
        adapters::telemetry::count("PagesSilent", report.silent.len() as u64, f);
        adapters::telemetry::count("PagesResubscribed", report.resubscribed.len() as u64, f);
        adapters::telemetry::count("PageTokensExpiring", report.expiring.len() as u64, f);
        adapters::telemetry::count("PagesChecked", report.checked as u64, f);
        adapters::telemetry::count("PagesSkipped", report.skipped as u64, f);
        if report.stop == Stop::RateLimited {
            adapters::telemetry::count("HealthSweepDeferred", 1, f);
        }
        info!(
            checked = report.checked,
            skipped = report.skipped,
            healthy = report.healthy,
            lost = report.marked_lost.len(),
            recovered = report.recovered.len(),
            silent = report.silent.len(),
            unknown = report.unknown.len(),
            batches = report.batches,
            continued_from = ?report.continued_from,
            finished_sweep = report.finished_sweep,
            stop = report.stop.as_str(),
            "health check run done"
        );
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

//! The scheduled health check. For every connected Page: is its token still valid
//! (`debug_token`), is the app still subscribed to its webhooks (`GET subscribed_apps`; Meta
//! drops subscriptions after an hour of failed deliveries, so a missing one is restored), and
//! has it delivered any webhook lately (a long silence is flagged for the engineer on call).
//! A dead token or a refused re-subscription puts the Page in lost connection with the reason.

use std::sync::Arc;
use std::time::Duration;

use adapters::facebook::Facebook;
use domain::graph::{GraphError, SUBSCRIBED_FIELDS};
use domain::model::PageStatus;
use domain::ports::{Holder, PageStore, RouteHealth};
use futures::StreamExt;
use tracing::{info, warn};

/// How many Pages are checked at once.
const CONCURRENCY: usize = 4;

pub struct HealthCheck {
    /// The only port the check needs: the routes to walk, Page tokens, lost connections.
    pub pages: Arc<dyn PageStore>,
    pub facebook: Arc<Facebook>,
    /// A connected Page silent for longer than this is flagged (`HEALTH_SILENCE_HOURS`).
    pub silence: Duration,
}

/// What one run found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HealthReport {
    pub checked: usize,
    pub healthy: usize,
    pub marked_lost: Vec<String>,
    pub resubscribed: Vec<String>,
    pub silent: Vec<String>,
    /// Pages whose check could not finish (Graph unreachable, rate limited): next run.
    pub unknown: Vec<String>,
    /// Tokens of unconnected Pages removed because they expired.
    pub tokens_expired: usize,
}

enum Verdict {
    Healthy { resubscribed: bool },
    Lost,
    Unknown,
}

impl HealthCheck {
    pub async fn run(&self) -> Result<HealthReport, domain::ports::StoreError> {
        let routes: Vec<RouteHealth> = self
            .pages
            .list_routes()
            .await?
            .into_iter()
            .filter(|r| r.route.status == PageStatus::Connected)
            .collect();
        let now = domain::timefmt::now_ms();
        // Tokens of Pages imported (or disconnected) and not connected since expire.
        let tokens_expired = match self.pages.expire_tokens(now).await {
            Ok(n) => n,
            Err(e) => {
                warn!(error = %adapters::telemetry::error_chain(&e), "token sweep failed; next run");
                0
            }
        };
        let verdicts: Vec<(RouteHealth, Verdict)> = futures::stream::iter(routes)
            .map(|r| async move {
                let v = self.check(&r).await;
                (r, v)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut report = HealthReport { tokens_expired, ..HealthReport::default() };
        for (r, v) in verdicts {
            let page = r.route.page_id.clone();
            report.checked += 1;
            match v {
                Verdict::Healthy { resubscribed } => {
                    report.healthy += 1;
                    if resubscribed {
                        report.resubscribed.push(page.clone());
                    }
                    let last = r.last_event_ms.or(r.connected_ms).unwrap_or(now);
                    if now - last > self.silence.as_millis() as i64 {
                        warn!(page_id = %page, tenant_id = %r.route.tenant_id, silent_hours = (now - last) / 3_600_000, "Page has delivered no webhook for longer than the silence threshold");
                        report.silent.push(page);
                    }
                }
                Verdict::Lost => report.marked_lost.push(page),
                Verdict::Unknown => report.unknown.push(page),
            }
        }
        report.marked_lost.sort();
        report.silent.sort();
        adapters::telemetry::count(
            "PagesMarkedLost",
            report.marked_lost.len() as u64,
            ("Function", "page-health"),
        );
        adapters::telemetry::count("PagesSilent", report.silent.len() as u64, ("Function", "page-health"));
        adapters::telemetry::count(
            "PagesResubscribed",
            report.resubscribed.len() as u64,
            ("Function", "page-health"),
        );
        info!(
            checked = report.checked,
            healthy = report.healthy,
            lost = report.marked_lost.len(),
            silent = report.silent.len(),
            unknown = report.unknown.len(),
            "health check done"
        );
        Ok(report)
    }

    async fn lost(&self, r: &RouteHealth, reason: &str) -> Verdict {
        warn!(page_id = %r.route.page_id, reason, "Page in lost connection");
        // Only the connection this check read: a reconnect meanwhile is left alone.
        match self.pages.mark_lost(&r.route.tenant_id, &r.route.page_id, &r.version, reason).await {
            Ok(true) => Verdict::Lost,
            Ok(false) => Verdict::Unknown,
            Err(e) => {
                warn!(error = %e, "could not record the lost connection");
                Verdict::Unknown
            }
        }
    }

    async fn graph_error(&self, r: &RouteHealth, e: &GraphError) -> Verdict {
        match e.lost_reason() {
            Some(reason) => self.lost(r, &reason).await,
            None => {
                warn!(page_id = %r.route.page_id, code = ?e.code, status = e.status, "health check could not reach a verdict");
                Verdict::Unknown
            }
        }
    }

    async fn check(&self, r: &RouteHealth) -> Verdict {
        let (tenant, page_id) = (&r.route.tenant_id, &r.route.page_id);
        // The holder's current token, at the version listed: every Graph call on the Page goes
        // through the shop holding its route.
        let sealed = match self.pages.holder(page_id).await {
            Ok(Some(Holder { route, version, token_enc: Some(t), .. }))
                if route.tenant_id == *tenant && version == r.version =>
            {
                t
            }
            Ok(_) => return Verdict::Unknown,
            Err(e) => {
                warn!(error = %adapters::telemetry::error_chain(&e), "page lookup failed");
                return Verdict::Unknown;
            }
        };
        let Ok(token) = self.facebook.cipher.decrypt(tenant, page_id, &sealed) else {
            return self.lost(r, "the stored Page token cannot be used; connect the Page again").await;
        };
        match self.facebook.graph.debug_token(&token).await {
            Ok(info) if !info.is_valid => {
                return self
                    .lost(r, "Facebook reports the Page token is no longer valid; connect the Page again")
                    .await;
            }
            Ok(_) => {}
            Err(e) => return self.graph_error(r, &e).await,
        }
        let fields = match self.facebook.graph.subscribed_fields(page_id, &token).await {
            Ok(f) => f,
            Err(e) => return self.graph_error(r, &e).await,
        };
        if SUBSCRIBED_FIELDS.iter().all(|f| fields.iter().any(|g| g == f)) {
            return Verdict::Healthy { resubscribed: false };
        }
        warn!(page_id = %page_id, "webhook subscription missing or partial; subscribing again");
        match self.facebook.graph.subscribe_page(page_id, &token, SUBSCRIBED_FIELDS).await {
            Ok(()) => Verdict::Healthy { resubscribed: true },
            Err(e) => match e.lost_reason() {
                Some(reason) => self.lost(r, &reason).await,
                None if e.is_retryable() => Verdict::Unknown,
                None => {
                    self.lost(r, &format!("Meta stopped delivering webhooks and the subscription could not be restored ({})", e.message))
                        .await
                }
            },
        }
    }
}

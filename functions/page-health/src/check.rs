//! One Page's check: the skip rule, the holder's token (`debug_token`: valid, the permissions
//! the product needs, its expiry), the webhook subscription, and the way back from lost
//! connection.

use domain::graph::{GraphError, GraphErrorKind, SUBSCRIBED_FIELDS};
use domain::model::PageStatus;
use domain::ports::{Holder, RouteHealth};
use secrecy::SecretString;
use tracing::warn;

use super::{HealthCheck, ms};

pub(crate) enum Verdict {
    /// Connected, delivering and checked recently: no Graph call.
    Skipped,
    Healthy {
        resubscribed: bool,
        expiring: bool,
    },
    Lost,
    /// Was in lost connection; its holder's token works again and the route is connected.
    Recovered,
    StillLost,
    Unknown,
    /// Not checked this run: the Graph client refused for high usage (or Meta throttles), or
    /// the run's time is spent.
    Deferred {
        rate_limited: bool,
    },
}

/// What the token and subscription checks found.
enum Finding {
    Healthy {
        resubscribed: bool,
        expiring: bool,
    },
    /// The Page should be (or stay) in lost connection, for this reason.
    Broken(String),
    Unknown,
    Deferred,
}

impl HealthCheck {
    pub(crate) async fn check(&self, r: &RouteHealth) -> Verdict {
        let now = domain::timefmt::now_ms();
        let lost = r.route.status == PageStatus::LostConnection;
        if !lost && self.recently_fine(r, now) {
            // No Graph call, but the key rotation's sweep still reaches the Page (one read).
            self.rewrap_held(r).await;
            return Verdict::Skipped;
        }
        match self.inspect(r, lost, now).await {
            Finding::Deferred => Verdict::Deferred { rate_limited: true },
            Finding::Unknown => Verdict::Unknown,
            Finding::Broken(_) if lost => Verdict::StillLost,
            Finding::Broken(reason) => self.lost(r, &reason).await,
            Finding::Healthy { .. } if lost => {
                let (tenant, page) = (&r.route.tenant_id, &r.route.page_id);
                match self.pages.mark_recovered(tenant, page, &r.version).await {
                    Ok(true) => {
                        tracing::info!(page_id = %page, tenant_id = %tenant, "Page back from lost connection");
                        self.stamp(r, now).await;
                        Verdict::Recovered
                    }
                    // A takeover, reconnect or change meanwhile: theirs stands.
                    Ok(false) => Verdict::StillLost,
                    Err(e) => {
                        warn!(error = %adapters::telemetry::error_chain(&e), "could not record the recovery");
                        Verdict::Unknown
                    }
                }
            }
            Finding::Healthy { resubscribed, expiring } => {
                self.stamp(r, now).await;
                Verdict::Healthy { resubscribed, expiring }
            }
        }
    }

    /// The skip rule: a webhook within `fresh_delivery` proves the subscription works; a
    /// healthy check within `fresh_check` (at this connection version) vouches for the token.
    fn recently_fine(&self, r: &RouteHealth, now: i64) -> bool {
        let delivered = r.last_event_ms.is_some_and(|t| now - t < ms(self.sweep.fresh_delivery));
        let checked = r.checked_ms.is_some_and(|t| now - t < ms(self.sweep.fresh_check));
        delivered && checked
    }

    async fn stamp(&self, r: &RouteHealth, now: i64) {
        if let Err(e) = self.pages.record_health_check(&r.route.page_id, &r.version, now).await {
            warn!(error = %adapters::telemetry::error_chain(&e), "could not record the health check");
        }
    }

    /// Key rotation (docs/operations.md): a token sealed under a key that is no longer the
    /// ring's current one (or in the old `v1` form) is re-wrapped under the current key, a
    /// conditional write that never overwrites a newer token. Every sweep reaches every Page,
    /// so one sweep after a rotation the old key can leave the ring.
    async fn rewrap(&self, tenant: &str, page_id: &str, sealed: &str) {
        if let Err(e) =
            adapters::crypto::rewrap_if_needed(&*self.pages, &self.facebook.cipher, tenant, page_id, sealed)
                .await
        {
            warn!(error = %adapters::telemetry::error_chain(&e), "could not store the re-wrapped Page token; next sweep");
        }
    }

    /// [`HealthCheck::rewrap`] for a Page the skip rule spares a Graph call: its holder's token
    /// is read (at the version listed) only when it needs one.
    async fn rewrap_held(&self, r: &RouteHealth) {
        let (tenant, page_id) = (&r.route.tenant_id, &r.route.page_id);
        match self.pages.holder(page_id).await {
            Ok(Some(Holder { route, version, token_enc: Some(t), .. }))
                if route.tenant_id == *tenant && version == r.version =>
            {
                self.rewrap(tenant, page_id, &t).await;
            }
            Ok(_) => {}
            Err(e) => warn!(error = %adapters::telemetry::error_chain(&e), "page lookup failed"),
        }
    }

    /// The holder's token and the subscription, with Graph.
    async fn inspect(&self, r: &RouteHealth, lost: bool, now: i64) -> Finding {
        let (tenant, page_id) = (&r.route.tenant_id, &r.route.page_id);
        // The holder's current token, at the version listed: every Graph call on the Page goes
        // through the shop holding its route.
        let sealed = match self.pages.holder(page_id).await {
            Ok(Some(Holder { route, version, token_enc: Some(t), .. }))
                if route.tenant_id == *tenant && version == r.version =>
            {
                t
            }
            // A lost Page whose token was taken back (deauthorized) has none: it stays lost.
            Ok(Some(Holder { route, version, token_enc: None, .. }))
                if lost && route.tenant_id == *tenant && version == r.version =>
            {
                return Finding::Broken("no Page token".into());
            }
            Ok(_) => return Finding::Unknown,
            Err(e) => {
                warn!(error = %adapters::telemetry::error_chain(&e), "page lookup failed");
                return Finding::Unknown;
            }
        };
        let Ok(token) = self.facebook.cipher.open(tenant, page_id, &sealed).await else {
            return Finding::Broken("the stored Page token cannot be used; connect the Page again".into());
        };
        self.rewrap(tenant, page_id, &sealed).await;
        let info = match self.facebook.graph.debug_token(&token).await {
            Ok(info) => info,
            Err(e) => return graph_finding(&e),
        };
        if !info.is_valid {
            return Finding::Broken(
                "Facebook reports the Page token is no longer valid; connect the Page again".into(),
            );
        }
        let missing = domain::oauth::missing_scopes(&info.scopes);
        if !missing.is_empty() {
            return Finding::Broken(format!(
                "the Page token lacks the permission{} {}; connect the Page again and grant {}",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", "),
                if missing.len() == 1 { "it" } else { "them" },
            ));
        }
        let expiring =
            info.expires_at > 0 && info.expires_at.saturating_mul(1000) - now < ms(self.sweep.expiry_warning);
        if expiring {
            warn!(page_id = %page_id, tenant_id = %tenant, expires_at = info.expires_at, "Page token expires soon; the owner should connect the Page again");
        }
        match self.subscription(page_id, &token, lost).await {
            Finding::Healthy { resubscribed, .. } => Finding::Healthy { resubscribed, expiring },
            other => other,
        }
    }

    /// Whether the app receives the Page's webhooks; a connected Page's missing subscription is
    /// restored (a lost one is left as it is: it must come back whole).
    async fn subscription(&self, page_id: &str, token: &SecretString, lost: bool) -> Finding {
        let fields = match self.facebook.graph.subscribed_fields(page_id, token).await {
            Ok(f) => f,
            Err(e) => return graph_finding(&e),
        };
        if SUBSCRIBED_FIELDS.iter().all(|f| fields.iter().any(|g| g == f)) {
            return Finding::Healthy { resubscribed: false, expiring: false };
        }
        if lost {
            return Finding::Broken("webhook subscription missing".into());
        }
        warn!(page_id = %page_id, "webhook subscription missing or partial; subscribing again");
        match self.facebook.graph.subscribe_page(page_id, token, SUBSCRIBED_FIELDS).await {
            Ok(()) => Finding::Healthy { resubscribed: true, expiring: false },
            Err(e) => match graph_finding(&e) {
                Finding::Unknown if !e.is_retryable() => Finding::Broken(format!(
                    "Meta stopped delivering webhooks and the subscription could not be restored ({})",
                    e.message
                )),
                other => other,
            },
        }
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
}

/// A Graph failure: the Page's connection is lost (with Meta's reason), the client refused or
/// Meta throttles (defer the rest of the sweep), or no verdict.
fn graph_finding(e: &GraphError) -> Finding {
    if let Some(reason) = e.lost_reason() {
        return Finding::Broken(reason);
    }
    if e.kind == GraphErrorKind::RateLimited {
        return Finding::Deferred;
    }
    warn!(code = ?e.code, status = e.status, "health check could not reach a verdict");
    Finding::Unknown
}

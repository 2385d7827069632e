//! Meta's rate-limit headers (`X-App-Usage`, `X-Business-Use-Case-Usage`; PLATFORM.md,
//! "Rate-limit headers"; `docs/operations.md`, "Meta's rate limits and the health check"):
//! read on every answer, success or error, and kept per Page and app-wide so that the client
//! slows down before Meta's limit and, near it or during a throttle, refuses to call at all.
//!
//! A refusal is a [`GraphError::usage_limited`] carrying when to come back: background work
//! (history sync, page-health) defers instead of burning the quota, and a person waiting gets
//! the fast rate-limit answer (the admin API's 429 with `Retry-After`) instead of a long sleep.
//! Headers are parsed defensively: a header that is not the JSON Meta documents is ignored
//! (logged once per client), never an error.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use domain::graph::GraphError;
use serde_json::Value;

/// An entry not refreshed for this long is forgotten: Meta's counts are over a rolling hour,
/// and a call made after that refreshes them (the way back from a refusal at high usage).
pub const USAGE_TTL: Duration = Duration::from_secs(120);
/// Page entries kept before the stale ones are swept out.
const MAX_PAGES: usize = 2_000;

/// When the client slows down and when it stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageLimits {
    /// From this percentage on, each call waits, longer as usage nears `stop_at`.
    pub slow_at: u32,
    /// From this percentage on, calls are refused until the entry ages out.
    pub stop_at: u32,
    /// The wait just under `stop_at`.
    pub max_slowdown: Duration,
}

impl UsageLimits {
    /// Background calls: slow from 75 %, up to 4 s a call; stop at 95 %.
    pub const BACKGROUND: UsageLimits =
        UsageLimits { slow_at: 75, stop_at: 95, max_slowdown: Duration::from_secs(4) };
    /// A person waits: barely slowed (250 ms at most), refused at the same 95 %.
    pub const INTERACTIVE: UsageLimits =
        UsageLimits { slow_at: 75, stop_at: 95, max_slowdown: Duration::from_millis(250) };

    /// The wait before a call at `percent`; `None`: do not call.
    fn wait_at(&self, percent: u32) -> Option<Duration> {
        if percent >= self.stop_at {
            return None;
        }
        if percent < self.slow_at {
            return Some(Duration::ZERO);
        }
        let span = self.stop_at.saturating_sub(self.slow_at).max(1);
        let into = percent - self.slow_at + 1;
        Some(self.max_slowdown.mul_f64(f64::from(into.min(span)) / f64::from(span)))
    }
}

/// The latest usage Meta reported for one Page (its Business Use Case) or for the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// The highest of `call_count`, `total_cputime` and `total_time`, in percent of the quota.
    pub percent: u32,
    /// A throttle is on until then (`estimated_time_to_regain_access`).
    pub regain_at: Option<Instant>,
    pub seen_at: Instant,
}

impl Usage {
    fn fresh(&self, now: Instant) -> bool {
        now.duration_since(self.seen_at) < USAGE_TTL || self.regain_at.is_some_and(|r| r > now)
    }
}

/// What a call should do, given the usage known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    Go,
    /// Wait this long, then call.
    Slow(Duration),
    /// Do not call: this error (rate limited, with a retry-after).
    Refuse(GraphError),
}

/// The usage seen by one client (shared by its clones), behind a small lock held only to
/// read or replace an entry.
#[derive(Debug, Default)]
pub struct UsageBook {
    entries: Mutex<Entries>,
    bad_header_logged: AtomicBool,
}

#[derive(Debug, Default)]
struct Entries {
    app: Option<Usage>,
    pages: HashMap<String, Usage>,
}

impl UsageBook {
    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The Page's latest usage (its Business Use Case), while fresh.
    pub fn page(&self, page_id: &str) -> Option<Usage> {
        let now = Instant::now();
        self.lock().pages.get(page_id).copied().filter(|u| u.fresh(now))
    }

    /// The app's latest usage (`X-App-Usage`), while fresh.
    pub fn app(&self) -> Option<Usage> {
        let now = Instant::now();
        self.lock().app.filter(|u| u.fresh(now))
    }

    /// Before a call on `page` (a Page-token call) or on the app (`None`).
    pub fn gate(&self, op: &str, page: Option<&str>, limits: &UsageLimits) -> Gate {
        let usage = match page {
            Some(p) => self.page(p),
            None => self.app(),
        };
        let Some(u) = usage else { return Gate::Go };
        let now = Instant::now();
        let scope = if page.is_some() { "page" } else { "app" };
        if let Some(regain) = u.regain_at.filter(|r| *r > now) {
            crate::telemetry::count("GraphCallsDeferred", 1, ("Scope", scope));
            return Gate::Refuse(GraphError::usage_limited(
                format!("{op}: Meta throttles this {scope}; not called until access is regained"),
                regain - now,
            ));
        }
        match limits.wait_at(u.percent) {
            None => {
                crate::telemetry::count("GraphCallsDeferred", 1, ("Scope", scope));
                let left =
                    USAGE_TTL.saturating_sub(now.duration_since(u.seen_at)).max(Duration::from_secs(1));
                Gate::Refuse(GraphError::usage_limited(
                    format!("{op}: {scope} usage at {}% of Meta's limit; not called", u.percent),
                    left,
                ))
            }
            Some(w) if w.is_zero() => Gate::Go,
            Some(w) => Gate::Slow(w),
        }
    }

    /// Reads both headers of one answer (absent ones change nothing).
    pub fn record(&self, app: Option<&[u8]>, buc: Option<&[u8]>, limits: &UsageLimits) {
        let now = Instant::now();
        let app = app.map(|h| parse_app(h).ok_or(()));
        let buc = buc.map(|h| parse_buc(h, now).ok_or(()));
        let bad = matches!(app, Some(Err(()))) || matches!(buc, Some(Err(())));
        if bad && !self.bad_header_logged.swap(true, Ordering::Relaxed) {
            tracing::warn!("a Graph usage header is not the JSON Meta documents; ignored (logged once)");
        }
        let mut e = self.lock();
        if let Some(Ok(percent)) = app {
            let was = e.app.map(|u| u.percent);
            e.app = Some(Usage { percent, regain_at: None, seen_at: now });
            crossed(was, percent, limits, "app");
        }
        if let Some(Ok(pages)) = buc {
            if e.pages.len() + pages.len() > MAX_PAGES {
                e.pages.retain(|_, u| u.fresh(now));
            }
            for (page, u) in pages {
                let was = e.pages.get(&page).map(|u| u.percent);
                crossed(was, u.percent, limits, "page");
                e.pages.insert(page, u);
            }
        }
    }
}

/// Counts (and logs) a usage that has just reached the slow-down threshold.
fn crossed(was: Option<u32>, now: u32, limits: &UsageLimits, scope: &str) {
    if now >= limits.slow_at && was.is_none_or(|w| w < limits.slow_at) {
        tracing::warn!(scope, percent = now, "Meta's usage passed the slow-down threshold");
        crate::telemetry::count("GraphUsageHigh", 1, ("Scope", scope));
    }
}

/// A percentage field: a number (integer or not) from 0 up; anything else is not Meta's.
fn percent(v: &Value) -> Option<u32> {
    let n = v.as_f64().filter(|n| n.is_finite() && *n >= 0.0)?;
    Some(n.min(10_000.0).ceil() as u32)
}

/// The highest of the three counts of one usage object; absent fields count as 0, but at
/// least one must be there.
fn highest(o: &serde_json::Map<String, Value>) -> Option<u32> {
    let fields = ["call_count", "total_cputime", "total_time"];
    let present: Vec<&Value> = fields.iter().filter_map(|f| o.get(*f)).collect();
    if present.is_empty() {
        return None;
    }
    present.into_iter().map(percent).try_fold(0, |m, p| Some(m.max(p?)))
}

/// `X-App-Usage: {"call_count":n,"total_cputime":n,"total_time":n}`.
pub fn parse_app(header: &[u8]) -> Option<u32> {
    let v: Value = serde_json::from_slice(header).ok()?;
    highest(v.as_object()?)
}

/// `X-Business-Use-Case-Usage: {"<page_id>":[{"type","call_count","total_cputime",
/// "total_time","estimated_time_to_regain_access"}]}`: per id, the highest usage of its
/// entries and the latest regain time (minutes from now).
pub fn parse_buc(header: &[u8], now: Instant) -> Option<Vec<(String, Usage)>> {
    let v: Value = serde_json::from_slice(header).ok()?;
    let mut out = Vec::new();
    for (id, entries) in v.as_object()? {
        if domain::ids::PageId::parse(id).is_err() {
            return None;
        }
        let mut pct = 0;
        let mut regain: Option<Instant> = None;
        for e in entries.as_array()? {
            let o = e.as_object()?;
            pct = pct.max(highest(o)?);
            let minutes = match o.get("estimated_time_to_regain_access") {
                None | Some(Value::Null) => 0,
                Some(m) => percent(m)?,
            };
            if minutes > 0 {
                let at = now + Duration::from_secs(60 * u64::from(minutes));
                regain = Some(regain.map_or(at, |r| r.max(at)));
            }
        }
        out.push((id.clone(), Usage { percent: pct, regain_at: regain, seen_at: now }));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_read_as_meta_documents_them() {
        assert_eq!(parse_app(br#"{"call_count":12,"total_cputime":80,"total_time":3}"#), Some(80));
        let now = Instant::now();
        let pages = parse_buc(
            br#"{"1201":[{"type":"pages","call_count":96,"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":7}]}"#,
            now,
        )
        .expect("parsed");
        assert_eq!(pages[0].0, "1201");
        assert_eq!(pages[0].1.percent, 96);
        assert_eq!(pages[0].1.regain_at, Some(now + Duration::from_secs(420)));
    }

    #[test]
    fn malformed_headers_are_refused_not_guessed() {
        for bad in [&b"not json"[..], b"[]", b"{}", br#"{"call_count":"x"}"#, br#"{"call_count":-3}"#] {
            assert_eq!(parse_app(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        let now = Instant::now();
        for bad in [&br#"{"1201":{}}"#[..], br#"{"../x":[{"call_count":1}]}"#, br#"{"1":[{"type":"pages"}]}"#]
        {
            assert!(parse_buc(bad, now).is_none(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn the_gate_slows_then_refuses() {
        let book = UsageBook::default();
        let l = UsageLimits::BACKGROUND;
        assert_eq!(book.gate("op", None, &l), Gate::Go);
        book.record(Some(br#"{"call_count":50}"#), None, &l);
        assert_eq!(book.gate("op", None, &l), Gate::Go);
        book.record(Some(br#"{"call_count":80}"#), None, &l);
        let Gate::Slow(w80) = book.gate("op", None, &l) else { panic!("80 % slows") };
        book.record(Some(br#"{"call_count":94}"#), None, &l);
        let Gate::Slow(w94) = book.gate("op", None, &l) else { panic!("94 % slows") };
        assert!(w80 < w94 && w94 <= l.max_slowdown, "{w80:?} {w94:?}");
        book.record(Some(br#"{"call_count":95}"#), None, &l);
        let Gate::Refuse(e) = book.gate("op", None, &l) else { panic!("95 % refuses") };
        assert_eq!(e.kind, domain::graph::GraphErrorKind::RateLimited);
        assert!(e.retry_after.is_some_and(|r| r <= USAGE_TTL));
        // Page usage is per Page; the app's does not gate a Page call.
        assert_eq!(book.gate("op", Some("1201"), &l), Gate::Go);
    }

    #[test]
    fn bad_headers_leave_the_known_usage_alone() {
        let book = UsageBook::default();
        let l = UsageLimits::BACKGROUND;
        book.record(Some(br#"{"call_count":80}"#), None, &l);
        book.record(Some(b"garbage"), Some(b"{\"1201\":7}"), &l);
        assert_eq!(book.app().map(|u| u.percent), Some(80));
        assert!(book.page("1201").is_none());
    }
}

//! Who holds a Page (docs/page-custody.md): the decisions, as pure functions, behind connect,
//! Facebook Login's import, and takeover. The store carries them out with conditional writes
//! (`PageStore::begin_change`, `commit_connect`, `mark_lost`).
//!
//! A shop holds a Page while its route is the Page's route. A route in lost connection still
//! receives for its shop (quarantine: nothing is dropped) until a current admin of the Page
//! connects it to another shop (takeover). While the holder is connected and its token works,
//! no other shop can take the Page.

use crate::ports::{Holder, Takeover};
use crate::timefmt::rfc3339_ms;

/// What a connect of `tenant` may do with the Page's route as it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectPlan {
    /// No route (or only a dead draft): write a draft, then the connection.
    Fresh,
    /// The shop's own route (connected, lost, or its own dead draft): reconnect it.
    Own,
    /// Another shop's route in lost connection: take it over at the version seen.
    TakeOver(Takeover),
}

/// Why a connect cannot proceed now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectRefusal {
    /// Another shop holds the Page and its connection works.
    Taken,
    /// A change of the route (connect, disconnect) is running.
    Busy,
}

/// The plan of a connect by `tenant` at `now_ms` (a takeover's reason names that moment).
pub fn connect_plan(
    tenant: &str,
    holder: Option<&Holder>,
    now_ms: i64,
) -> Result<ConnectPlan, ConnectRefusal> {
    let Some(h) = holder else { return Ok(ConnectPlan::Fresh) };
    if h.leased(now_ms) {
        return Err(ConnectRefusal::Busy);
    }
    if h.route.tenant_id == tenant {
        return Ok(ConnectPlan::Own);
    }
    if h.draft {
        return Ok(ConnectPlan::Fresh);
    }
    match h.route.status {
        crate::model::PageStatus::LostConnection => Ok(ConnectPlan::TakeOver(Takeover {
            tenant_id: h.route.tenant_id.clone(),
            version: h.version.clone(),
            reason: taken_over_reason(now_ms),
        })),
        _ => Err(ConnectRefusal::Taken),
    }
}

/// What Facebook Login does with one Page its user administers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportVerdict {
    /// Import it (no holder, the shop's own, or another shop's lost route: a takeover waits
    /// for the connect).
    Import,
    /// Another shop holds it connected: import only if that shop's token no longer works
    /// (check it with Meta; mark it lost at this version if it does not).
    CheckHolder,
    /// Another shop's change is running: report it taken for now.
    Taken,
}

pub fn import_verdict(tenant: &str, holder: Option<&Holder>, now_ms: i64) -> ImportVerdict {
    match holder {
        None => ImportVerdict::Import,
        Some(h) if h.route.tenant_id == tenant => ImportVerdict::Import,
        Some(h) if h.leased(now_ms) => ImportVerdict::Taken,
        Some(h) if h.draft => ImportVerdict::Import,
        Some(h) if h.route.status == crate::model::PageStatus::LostConnection => ImportVerdict::Import,
        Some(_) => ImportVerdict::CheckHolder,
    }
}

/// The previous holder's `lost_reason` after a takeover at `now_ms`.
pub fn taken_over_reason(now_ms: i64) -> String {
    format!(
        "a current admin of this Page connected it to another shop on {}; connect it again from here if you still administer it",
        rfc3339_ms(now_ms)
    )
}

/// The holder's `lost_reason` when Facebook Login finds its token dead.
pub const HOLDER_TOKEN_DEAD: &str = "Facebook no longer accepts the Page token (checked when an admin of the Page logged in); connect the Page again";

/// A fresh random id for a connection's version or a route change's lease (`op`): 32 hex
/// characters, never reused.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ChatMode, PageRoute, PageStatus};

    fn holder(tenant: &str, status: PageStatus, lease: Option<i64>) -> Holder {
        Holder {
            route: PageRoute {
                page_id: "1".into(),
                tenant_id: tenant.into(),
                status,
                chat_mode: ChatMode::OnlyMe,
                rule_id: None,
                connected_by: "o@a.vn".into(),
            },
            version: "v1".into(),
            token_enc: None,
            draft: status == PageStatus::NotConnected,
            lease_until_ms: lease,
        }
    }

    #[test]
    fn connect_plans() {
        let now = 1_000;
        assert_eq!(connect_plan("B", None, now), Ok(ConnectPlan::Fresh));
        let own = holder("B", PageStatus::Connected, None);
        assert_eq!(connect_plan("B", Some(&own), now), Ok(ConnectPlan::Own));
        let held = holder("A", PageStatus::Connected, None);
        assert_eq!(connect_plan("B", Some(&held), now), Err(ConnectRefusal::Taken));
        let lost = holder("A", PageStatus::LostConnection, None);
        match connect_plan("B", Some(&lost), now) {
            Ok(ConnectPlan::TakeOver(t)) => {
                assert_eq!((t.tenant_id.as_str(), t.version.as_str()), ("A", "v1"))
            }
            other => panic!("expected a takeover, got {other:?}"),
        }
        let busy = holder("A", PageStatus::LostConnection, Some(now + 1));
        assert_eq!(connect_plan("B", Some(&busy), now), Err(ConnectRefusal::Busy));
        let expired = holder("A", PageStatus::NotConnected, Some(now - 1));
        assert_eq!(connect_plan("B", Some(&expired), now), Ok(ConnectPlan::Fresh));
    }

    #[test]
    fn import_verdicts() {
        let now = 1_000;
        assert_eq!(import_verdict("B", None, now), ImportVerdict::Import);
        let held = holder("A", PageStatus::Connected, None);
        assert_eq!(import_verdict("B", Some(&held), now), ImportVerdict::CheckHolder);
        let lost = holder("A", PageStatus::LostConnection, None);
        assert_eq!(import_verdict("B", Some(&lost), now), ImportVerdict::Import);
        let busy = holder("A", PageStatus::Connected, Some(now + 5));
        assert_eq!(import_verdict("B", Some(&busy), now), ImportVerdict::Taken);
        assert_eq!(import_verdict("A", Some(&busy), now), ImportVerdict::Import);
    }
}

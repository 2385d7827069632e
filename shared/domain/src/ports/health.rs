//! The health sweep's state (`functions/page-health`): where the walk over every Page route
//! stands between scheduled runs, and which run may advance it.

/// The most routes one [`super::PageStore::list_routes_page`] call returns.
pub const ROUTES_PAGE_MAX: usize = 100;

/// Where the sweep stands when a run claims it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthSweep {
    /// Where the next batch starts; `None`: at the first route (a new sweep).
    pub cursor: Option<String>,
    /// When the last complete sweep ended, Unix ms.
    pub last_finished_ms: Option<i64>,
}

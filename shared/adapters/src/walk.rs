//! Inbox walks that stay exact while conversations move.
//!
//! The inbox lists conversations newest activity first, so a conversation's place changes with
//! every new message. A walk (the pages a client reads with `next_cursor`) pins every
//! conversation to its place **as of the walk's start**, `t0`: a conversation that moves after
//! `t0` is still listed once, at its old place, showing its current state. Stores keep a short
//! log of moves (label, conversation, place before the move), written atomically with the move
//! itself; a page lists the conversations whose pinned place falls below the cursor:
//!
//! * not moved since `t0`: the index gives the place directly (the index query);
//! * moved since `t0`: the place before its first move after `t0` (the log).
//!
//! Every conversation's pinned place is fixed for the whole walk and the cursor only goes down,
//! so none is listed twice and none that existed at `t0` and still belongs to the view is
//! missed. A conversation created after `t0` is pinned at the place it was created at (it is
//! listed only if the walk has not passed that place yet); one that left the view (claimed,
//! reassigned) is not listed. See docs/table-design.md, "Pagination cursors".

use std::collections::{BTreeMap, HashMap};

use domain::model::Conversation;
use domain::ports::{ConversationFilter, StoreError};

use crate::cursor;

/// How long a walk may last: its cursors are refused afterwards (`cursor_expired`), and the
/// move log is kept at least this long.
pub const WALK_TTL_MS: i64 = 15 * 60 * 1000;
/// How long a move log entry is kept (DynamoDB TTL); longer than any walk.
pub const MOVE_LOG_TTL_MS: i64 = 60 * 60 * 1000;
/// On DynamoDB a walk starts this long before its first page, so that a move whose
/// transaction was labelled just before the first page but committed after it is still found
/// in the log (see docs/table-design.md). Longer than `MOVE_DEADLINE_MS`.
pub const SETTLE_MS: i64 = 15_000;
/// The longest a move's transaction may take from its label to its answer, SDK retries
/// included; a call cut off is read again and labelled afresh.
pub const MOVE_DEADLINE_MS: u64 = 10_000;
/// A walk over a shop whose log since `t0` is longer than this is refused (`cursor_expired`):
/// the shop changed too much during it for the walk to be cheap, and a fresh first page is.
pub const MAX_MOVES: usize = 20_000;

/// A conversation's place in the inbox order: `{activity, 15 digits}#{id}`, compared as a
/// string (the same value as the DynamoDB index sort keys).
pub fn place(activity_ms: i64, conversation_id: &str) -> String {
    format!("{:015}#{conversation_id}", activity_ms.max(0))
}

/// A stable name for the view a cursor belongs to, so a cursor is refused by any other view.
pub fn view_key(tenant_id: &str, filter: &ConversationFilter) -> String {
    match filter {
        ConversationFilter::All { page_id } => {
            format!("{tenant_id}|all|{}", page_id.as_deref().unwrap_or(""))
        }
        ConversationFilter::AssignedTo { email, page_id } => {
            format!("{tenant_id}|mine|{email}|{}", page_id.as_deref().unwrap_or(""))
        }
        ConversationFilter::Pool { rule_id, page_id } => {
            format!("{tenant_id}|pool|{rule_id}|{}", page_id.as_deref().unwrap_or(""))
        }
    }
}

const LISTING: &str = "conversations";

/// Where a walk stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walk {
    /// The snapshot label: moves labelled after it are after the walk's start.
    pub t0: i64,
    /// When the walk's first page was served (wall clock, ms), for expiry.
    pub started_ms: i64,
    /// The place of the last conversation listed; None on the first page.
    pub after: Option<String>,
    /// Conversations the first page listed at their current place although they had moved
    /// since `t0` (DynamoDB starts a walk slightly in the past; the first page still shows the
    /// inbox as it is): later pages skip them.
    pub listed: Vec<String>,
}

impl Walk {
    /// The walk a request continues (from its cursor) or starts (`t0` from `start_label`).
    pub fn resume(
        view: &str,
        cursor: Option<&str>,
        now_ms: i64,
        start_label: impl FnOnce() -> i64,
    ) -> Result<Walk, StoreError> {
        let Some(c) = cursor else {
            return Ok(Walk { t0: start_label(), started_ms: now_ms, after: None, listed: Vec::new() });
        };
        let k = cursor::decode(LISTING, c)?;
        if k.get("v").map(String::as_str) != Some(view) {
            return Err(StoreError::InvalidCursor);
        }
        let num =
            |name: &str| k.get(name).and_then(|v| v.parse::<i64>().ok()).ok_or(StoreError::InvalidCursor);
        let walk = Walk {
            t0: num("t0")?,
            started_ms: num("s")?,
            after: Some(k.get("p").cloned().ok_or(StoreError::InvalidCursor)?),
            listed: match k.get("l") {
                None => Vec::new(),
                Some(l) => serde_json::from_str(l).map_err(|_| StoreError::InvalidCursor)?,
            },
        };
        // A start in the future (beyond clock skew between hosts) or a snapshot after the start
        // is no cursor this code issued.
        if walk.started_ms > now_ms + 60_000 || walk.t0 > walk.started_ms {
            return Err(StoreError::InvalidCursor);
        }
        if now_ms.saturating_sub(walk.started_ms) > WALK_TTL_MS {
            return Err(StoreError::CursorExpired);
        }
        Ok(walk)
    }

    /// The cursor that continues this walk after `place`.
    pub fn cursor_after(&self, view: &str, place: &str) -> String {
        let mut k = BTreeMap::new();
        if !self.listed.is_empty() {
            k.insert("l".to_string(), serde_json::to_string(&self.listed).unwrap_or_default());
        }
        k.insert("v".to_string(), view.to_string());
        k.insert("t0".to_string(), self.t0.to_string());
        k.insert("s".to_string(), self.started_ms.to_string());
        k.insert("p".to_string(), place.to_string());
        cursor::encode(LISTING, &k)
    }

    /// The oldest log label a page of this walk reads from: `t0`, but never older than the
    /// oldest walk still allowed, so a hand-made cursor cannot make a page read the whole log.
    pub fn log_from(&self, now_ms: i64) -> i64 {
        self.t0.max(now_ms - WALK_TTL_MS - SETTLE_MS)
    }

    /// Whether a conversation at (pinned) `place` is still ahead of this walk.
    pub fn ahead(&self, conversation_id: &str, place: &str) -> bool {
        self.after.as_deref().is_none_or(|a| place < a) && !self.listed.iter().any(|l| l == conversation_id)
    }
}

/// The first move after `t0` of each conversation: its place before that move. `log` must be in
/// label order (oldest first) and hold only moves labelled after `t0`.
pub fn pinned_places<'a>(log: impl IntoIterator<Item = (&'a str, &'a str)>) -> HashMap<String, String> {
    let mut pinned = HashMap::new();
    for (conversation_id, before) in log {
        pinned.entry(conversation_id.to_string()).or_insert_with(|| before.to_string());
    }
    pinned
}

/// The lowest place a page can list: below it the index has not been read, or holds more than
/// a page of unmoved entries, so moved conversations pinned there belong to a later page. None:
/// no floor (the index was read to its end).
pub fn page_floor(unmoved: &[(String, Conversation)], read_to: Option<&str>, limit: usize) -> Option<String> {
    let limit = limit.max(1);
    if unmoved.len() > limit { Some(unmoved[limit - 1].0.clone()) } else { read_to.map(str::to_string) }
}

/// Assembles one page. `unmoved` are index entries (place, conversation) of conversations not in
/// the log, newest first, below the cursor; `read_to` is the place of the last index entry read
/// when the index goes further down (None: the index was read to its end). `moved` are
/// conversations of the log as they stand now, with their pinned places, ahead of the cursor and
/// still in the view. Returns the page and the place to continue after, if any.
pub fn assemble(
    mut unmoved: Vec<(String, Conversation)>,
    read_to: Option<String>,
    moved: Vec<(String, Conversation)>,
    limit: usize,
) -> (Vec<Conversation>, Option<String>) {
    let limit = limit.max(1);
    let floor = page_floor(&unmoved, read_to.as_deref(), limit);
    unmoved.truncate(limit);
    let mut all = unmoved;
    all.extend(moved.into_iter().filter(|(p, _)| floor.as_deref().is_none_or(|f| p.as_str() > f)));
    all.sort_by(|a, b| b.0.cmp(&a.0));
    // Everything listable above the floor is in `all`: a short page continues below the floor.
    let next = if all.len() > limit {
        all.truncate(limit);
        all.last().map(|(p, _)| p.clone())
    } else {
        floor
    };
    (all.into_iter().map(|(_, c)| c).collect(), next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(id: &str) -> Conversation {
        Conversation {
            id: id.into(),
            tenant_id: "t".into(),
            page_id: "p".into(),
            customer_id: "c".into(),
            assignee: None,
            pool_rule_id: None,
            assignment_pending: false,
            last_customer_message_ms: None,
            last_activity_ms: 0,
            read_watermark_ms: None,
            delivery_watermark_ms: None,
            customer_name: None,
            last_message: None,
            post_id: None,
            phones: Vec::new(),
            handoff: None,
        }
    }

    fn entry(p: i64, id: &str) -> (String, Conversation) {
        (place(p, id), conv(id))
    }

    fn ids(v: &[Conversation]) -> Vec<&str> {
        v.iter().map(|c| c.id.as_str()).collect()
    }

    #[test]
    fn moved_conversations_are_listed_at_their_pinned_place() {
        let unmoved = vec![entry(90, "a"), entry(70, "c"), entry(50, "e")];
        let moved = vec![entry(80, "b"), entry(60, "d")];
        let (page, next) = assemble(unmoved, None, moved, 10);
        assert_eq!(ids(&page), ["a", "b", "c", "d", "e"]);
        assert_eq!(next, None);
    }

    #[test]
    fn a_full_page_stops_at_its_last_unmoved_entry_and_defers_lower_moved_ones() {
        let unmoved = vec![entry(90, "a"), entry(70, "c"), entry(50, "e"), entry(45, "g")];
        let moved = vec![entry(80, "b"), entry(40, "f")];
        let (page, next) = assemble(unmoved, None, moved, 3);
        assert_eq!(ids(&page), ["a", "b", "c"]);
        assert_eq!(next, Some(place(70, "c")));
        // The index read stopped early at 60: a moved one pinned at 40 waits for a later page.
        let (page, next) =
            assemble(vec![entry(90, "a")], Some(place(60, "z")), vec![entry(80, "b"), entry(40, "f")], 3);
        assert_eq!(ids(&page), ["a", "b"]);
        assert_eq!(next, Some(place(60, "z")));
        // Nothing listable among what was read: continue below it rather than stop.
        let (page, next) = assemble(vec![], Some(place(60, "z")), vec![], 3);
        assert!(page.is_empty());
        assert_eq!(next, Some(place(60, "z")));
        // The end: nothing more.
        let (page, next) = assemble(vec![entry(90, "a")], None, vec![entry(40, "f")], 3);
        assert_eq!(ids(&page), ["a", "f"]);
        assert_eq!(next, None);
    }

    #[test]
    fn first_move_after_t0_pins_the_place() {
        let log = [("x", "000000000000010#x"), ("y", "000000000000020#y"), ("x", "000000000000030#x")];
        let pinned = pinned_places(log);
        assert_eq!(pinned["x"], "000000000000010#x");
        assert_eq!(pinned["y"], "000000000000020#y");
    }

    #[test]
    fn cursors_are_bound_to_their_view_and_expire() {
        let w = Walk::resume("v1", None, 1_000, || 900).expect("start");
        assert_eq!(w, Walk { t0: 900, started_ms: 1_000, after: None, listed: vec![] });
        let w = Walk { listed: vec!["q".into()], ..w };
        let c = w.cursor_after("v1", "000000000000005#a");
        let back = Walk::resume("v1", Some(&c), 2_000, || unreachable!()).expect("resume");
        assert_eq!(back.t0, 900);
        assert_eq!(back.after.as_deref(), Some("000000000000005#a"));
        assert!(back.ahead("z", "000000000000004#z") && !back.ahead("a", "000000000000005#a"));
        assert!(!back.ahead("q", "000000000000001#q"), "listed on the first page");
        assert!(matches!(Walk::resume("v2", Some(&c), 2_000, || 0), Err(StoreError::InvalidCursor)));
        assert!(matches!(
            Walk::resume("v1", Some(&c), 1_001 + WALK_TTL_MS, || 0),
            Err(StoreError::CursorExpired)
        ));
        assert!(matches!(Walk::resume("v1", Some("e30"), 2_000, || 0), Err(StoreError::InvalidCursor)));
        // Hand-made cursors: a start in the future, a snapshot after the start.
        let future = Walk { t0: 900, started_ms: 1_000_000, after: None, listed: vec![] };
        let c = future.cursor_after("v1", "000000000000005#a");
        assert!(matches!(Walk::resume("v1", Some(&c), 2_000, || 0), Err(StoreError::InvalidCursor)));
        let inverted = Walk { t0: 1_500, started_ms: 1_000, after: None, listed: vec![] };
        let c = inverted.cursor_after("v1", "000000000000005#a");
        assert!(matches!(Walk::resume("v1", Some(&c), 2_000, || 0), Err(StoreError::InvalidCursor)));
        // However old its snapshot claims to be, a page reads the log of one walk's lifetime.
        let old = Walk { t0: 0, started_ms: 10 * WALK_TTL_MS, after: None, listed: vec![] };
        assert_eq!(old.log_from(10 * WALK_TTL_MS), 9 * WALK_TTL_MS - SETTLE_MS);
    }
}

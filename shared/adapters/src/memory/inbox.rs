//! The inbox listing (`list_conversations`): views, walks that stay exact while conversations
//! move, and the move log they read.

use domain::model::{Conversation, Paged};
use domain::ports::{ConversationFilter, StoreError};

use super::StoreState;
use crate::walk;

impl StoreState {
    /// A page of an inbox view, newest activity first, exact across moves (see `walk`).
    pub(super) fn inbox_page(
        &self,
        tenant_id: &str,
        filter: &ConversationFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Paged<Conversation>, StoreError> {
        let view = walk::view_key(tenant_id, filter);
        // Writes happen under the lock, so the walk's snapshot is exactly the last label.
        // (Labels may run ahead of the clock by a few ms under a burst of moves.)
        let now = domain::timefmt::now_ms().max(self.last_label);
        let w = walk::Walk::resume(&view, cursor, now, || self.last_label)?;
        let since: Vec<_> = self
            .moves
            .iter()
            .filter(|(label, tenant, _, _)| *label > w.t0 && tenant == tenant_id)
            .map(|(_, _, id, before)| (id.as_str(), before.as_str()))
            .collect();
        if since.len() > walk::MAX_MOVES {
            return Err(StoreError::CursorExpired);
        }
        let pinned = walk::pinned_places(since);
        let mut unmoved = Vec::new();
        let mut moved = Vec::new();
        for c in self.conversations.values().filter(|c| c.tenant_id == tenant_id && filter.admits(c)) {
            match pinned.get(&c.id) {
                Some(p) if w.ahead(&c.id, p) => moved.push((p.clone(), c.clone())),
                Some(_) => {}
                None => {
                    let p = walk::place(c.last_activity_ms, &c.id);
                    if w.ahead(&c.id, &p) {
                        unmoved.push((p, c.clone()));
                    }
                }
            }
        }
        unmoved.sort_by(|a, b| b.0.cmp(&a.0));
        let (items, next) = walk::assemble(unmoved, None, moved, limit);
        Ok(Paged { items, next_cursor: next.map(|p| w.cursor_after(&view, &p)) })
    }

    /// Logs a move of a conversation up the inbox with the place it leaves, and forgets moves
    /// older than the log's time to live.
    pub(super) fn log_move(&mut self, tenant_id: &str, conversation_id: &str, before: String) {
        let now = domain::timefmt::now_ms();
        let label = now.max(self.last_label + 1);
        self.last_label = label;
        self.moves.push_back((label, tenant_id.to_string(), conversation_id.to_string(), before));
        while self.moves.front().is_some_and(|m| m.0 < now - walk::MOVE_LOG_TTL_MS) {
            self.moves.pop_front();
        }
    }
}

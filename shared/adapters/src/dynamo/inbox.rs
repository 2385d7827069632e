//! The inbox listing behind `list_conversations`: a view's conversations newest first, page by
//! page, each conversation listed once even while it moves. The walk's rules are in
//! `crate::walk`; here are the reads it needs: Query pages of the index behind each view, the
//! shop's move log, and headers by id (docs/table-design.md, "Inbox move log entry" and
//! "Pagination cursors").

use std::collections::HashMap;

use domain::model::{Conversation, Paged};
use domain::ports::{Assignment, ConversationFilter, StoreError};

use super::codec::{FromItem, Move, Row, ToAttr, decode_all};
use super::errors::backend;
use super::query::MAX_QUERY_PAGES;
use super::{DynamoStore, Item, keys};
use crate::walk;

/// Index entries: a conversation's place in the index, and the conversation.
type Entries = Vec<(String, Conversation)>;

/// Whether an index entry is listed at its index place: not moved since the walk began (else
/// its pinned place counts), not listed by the first page, below the cursor.
fn unmoved_ahead(w: &walk::Walk, pinned: &HashMap<String, String>, c: &Conversation) -> bool {
    !pinned.contains_key(&c.id) && !w.listed.contains(&c.id)
}

impl DynamoStore {
    /// One page of an inbox view: the walk's first page, or the page after its cursor.
    pub(super) async fn inbox_page(
        &self,
        tenant_id: &str,
        filter: &ConversationFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Paged<Conversation>, StoreError> {
        let limit = limit.clamp(1, 100);
        let view = walk::view_key(tenant_id, filter);
        let now = domain::timefmt::now_ms();
        let w = walk::Walk::resume(&view, cursor, now, || now - walk::SETTLE_MS)?;
        if w.after.is_none() {
            return self.first_inbox_page(tenant_id, filter, w, &view, limit).await;
        }
        // The index is read before the log: an index entry that already shows a move was
        // written with its log entry, which the later (strongly consistent) log read sees.
        let (entries, read_to) = self.inbox_entries(tenant_id, filter, &w, limit).await?;
        let pinned = self.pinned_since(tenant_id, w.log_from(now)).await?;
        let unmoved: Vec<_> = entries.into_iter().filter(|(_, c)| unmoved_ahead(&w, &pinned, c)).collect();
        let floor = walk::page_floor(&unmoved, read_to.as_deref(), limit);
        let wanted: Vec<(&String, &String)> = pinned
            .iter()
            .filter(|(id, p)| w.ahead(id, p) && floor.as_deref().is_none_or(|f| p.as_str() > f))
            .collect();
        let ids: Vec<&str> = wanted.iter().map(|(id, _)| id.as_str()).collect();
        let current = self.conversations_by_id(tenant_id, &ids).await?;
        let moved = wanted
            .into_iter()
            .filter_map(|(id, p)| current.get(id).map(|c| (p.clone(), c.clone())))
            .filter(|(_, c)| filter.admits(c))
            .collect();
        let (items, next) = walk::assemble(unmoved, read_to, moved, limit);
        Ok(Paged { items, next_cursor: next.map(|p| w.cursor_after(&view, &p)) })
    }

    /// A walk's first page: the top of the index as it stands. The walk itself starts
    /// slightly earlier (`SETTLE_MS`, so that moves committing just after this read are in the
    /// log); the conversations listed here that moved since then are named in the cursor so the
    /// rest of the walk skips them.
    async fn first_inbox_page(
        &self,
        tenant_id: &str,
        filter: &ConversationFilter,
        mut w: walk::Walk,
        view: &str,
        limit: usize,
    ) -> Result<Paged<Conversation>, StoreError> {
        let (mut entries, read_to) = self.inbox_entries(tenant_id, filter, &w, limit).await?;
        let more = read_to.is_some() || entries.len() > limit;
        entries.truncate(limit);
        let pinned = self.pinned_since(tenant_id, w.t0).await?;
        w.listed =
            entries.iter().filter(|(_, c)| pinned.contains_key(&c.id)).map(|(_, c)| c.id.clone()).collect();
        let next = if more { entries.last().map(|(p, _)| w.cursor_after(view, p)) } else { None };
        Ok(Paged { items: entries.into_iter().map(|(_, c)| c).collect(), next_cursor: next })
    }

    /// Index entries below the walk's cursor, newest first: Query pages until more than
    /// `limit` (a full page, whatever the log then says moved) or the end. Returns them and, when
    /// the index goes further down, the place of the last one read.
    async fn inbox_entries(
        &self,
        tenant_id: &str,
        filter: &ConversationFilter,
        w: &walk::Walk,
        limit: usize,
    ) -> Result<(Entries, Option<String>), StoreError> {
        let mut entries = Vec::new();
        let mut start = None;
        for _ in 0..MAX_QUERY_PAGES {
            let (page, lek) = self.inbox_index_page(tenant_id, filter, w, start.take(), limit + 1).await?;
            entries.extend(page);
            match lek {
                Some((k, _)) if entries.len() <= limit => start = Some(k),
                Some((_, place)) => return Ok((entries, Some(place))),
                None => return Ok((entries, None)),
            }
        }
        let read_to = entries.last().map(|(p, _)| p.clone());
        Ok((entries, read_to))
    }

    /// One Query page of the index behind an inbox view, newest first, below the walk's
    /// cursor: (place, conversation) entries and the LastEvaluatedKey with its place.
    async fn inbox_index_page(
        &self,
        tenant_id: &str,
        filter: &ConversationFilter,
        w: &walk::Walk,
        start: Option<Item>,
        limit: usize,
    ) -> Result<(Entries, Option<(Item, String)>), StoreError> {
        let (index, pk_attr, sk_attr, pk_value, page_filter) = match filter {
            ConversationFilter::All { page_id: None } => {
                ("gsi2", "gsi2pk", "gsi2sk", keys::shop(tenant_id), None)
            }
            ConversationFilter::All { page_id: Some(p) } => {
                ("gsi3", "gsi3pk", "gsi3sk", keys::page_inbox(tenant_id, p), None)
            }
            ConversationFilter::Pool { rule_id, page_id } => (
                "gsi1",
                "gsi1pk",
                "gsi1sk",
                keys::inbox(tenant_id, &Assignment::Pool(rule_id.clone())),
                page_id.as_ref(),
            ),
            ConversationFilter::AssignedTo { email, page_id } => (
                "gsi1",
                "gsi1pk",
                "gsi1sk",
                keys::inbox(tenant_id, &Assignment::Agent(email.clone())),
                page_id.as_ref(),
            ),
        };
        let mut q = self
            .query()
            .index_name(index)
            .expression_attribute_names("#pk", pk_attr)
            .expression_attribute_values(":pk", pk_value.attr())
            .scan_index_forward(false)
            .limit(limit as i32)
            .set_exclusive_start_key(start);
        q = match &w.after {
            Some(after) => q
                .key_condition_expression("#pk = :pk AND #sk < :after")
                .expression_attribute_names("#sk", sk_attr)
                .expression_attribute_values(":after", after.attr()),
            None => q.key_condition_expression("#pk = :pk"),
        };
        if let Some(p) = page_filter {
            q = q.filter_expression("page_id = :page").expression_attribute_values(":page", p.attr());
        }
        let out = q.send().await.map_err(backend("Query"))?;
        let entries = out
            .items
            .unwrap_or_default()
            .iter()
            .map(|item| Ok((Row(item).req_s(sk_attr)?, Conversation::from_item(item)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let lek = out.last_evaluated_key.and_then(|k| Row(&k).s(sk_attr).map(|place| (k, place)));
        Ok((entries, lek))
    }

    /// The shop's move log since `t0` (strongly consistent): each moved conversation's place
    /// before its first move after `t0`.
    async fn pinned_since(&self, tenant_id: &str, t0: i64) -> Result<HashMap<String, String>, StoreError> {
        let q = self
            .query()
            .key_condition_expression("pk = :pk AND sk > :t0")
            .expression_attribute_values(":pk", keys::moves(tenant_id).attr())
            .expression_attribute_values(":t0", keys::moves_after(t0).attr())
            .projection_expression("conversation_id, #b")
            .expression_attribute_names("#b", "before")
            .consistent_read(true);
        let items = self.query_all(q, walk::MAX_MOVES).await?;
        if items.len() > walk::MAX_MOVES {
            return Err(StoreError::CursorExpired);
        }
        let log: Vec<Move> = decode_all(&items)?;
        Ok(walk::pinned_places(log.iter().map(|m| (m.conversation_id.as_str(), m.before.as_str()))))
    }

    /// Conversation headers by id (strongly consistent); absent ones are left out.
    async fn conversations_by_id(
        &self,
        tenant_id: &str,
        ids: &[&str],
    ) -> Result<HashMap<String, Conversation>, StoreError> {
        let keys = ids.iter().map(|id| keys::header(tenant_id, id)).collect();
        let items = self.batch_get(keys).await?;
        items.iter().map(|item| Conversation::from_item(item).map(|c| (c.id.clone(), c))).collect()
    }
}

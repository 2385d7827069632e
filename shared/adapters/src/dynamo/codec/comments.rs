//! The Page comment parts of items: a message's flat `c_*` attributes, a private reply mark,
//! and a hand-off (docs/table-design.md, "Message" and "Hand-off").

use aws_sdk_dynamodb::types::AttributeValue;
use domain::comments::{CommentState, Handoff, PrivateReplyMark};
use domain::ports::StoreError;

use super::super::Item;
use super::{FromItem, Row, ToAttr, ToItem};

/// The comment attributes of a message item (`c_*`), flat so that each can be changed by its
/// own conditional UpdateItem; None when the message is not a comment (no `c_id`).
pub(super) fn comment_state(row: Row<'_>) -> Result<Option<CommentState>, StoreError> {
    let Some(comment_id) = row.s("c_id") else { return Ok(None) };
    Ok(Some(CommentState {
        comment_id,
        post_id: row.s("c_post"),
        parent_id: row.s("c_parent"),
        hidden: row.b("c_hidden"),
        removed: row.b("c_removed"),
        previous_text: row.s("c_prev"),
        edited_ms: row.n("c_edit_ms"),
        private_reply: row.map("c_pr")?,
    }))
}

/// The `c_*` attributes of a comment's state, as a message item carries them (those absent
/// from the state are left out).
pub(super) fn comment_attrs(c: &CommentState) -> Item {
    let mut item = Item::from([
        ("c_id".to_string(), c.comment_id.attr()),
        ("c_hidden".to_string(), c.hidden.attr()),
        ("c_removed".to_string(), c.removed.attr()),
    ]);
    let optional = [
        ("c_post", c.post_id.as_deref().map(ToAttr::attr)),
        ("c_parent", c.parent_id.as_deref().map(ToAttr::attr)),
        ("c_prev", c.previous_text.as_deref().map(ToAttr::attr)),
        ("c_edit_ms", c.edited_ms.as_ref().map(ToAttr::attr)),
        ("c_pr", c.private_reply.as_ref().map(ToAttr::attr)),
    ];
    item.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_string(), v))));
    item
}

/// A comment's private reply mark (`c_pr`): a map of `by`, `reply_id`, `at_ms`.
impl ToAttr for PrivateReplyMark {
    fn attr(&self) -> AttributeValue {
        AttributeValue::M(Item::from([
            ("by".to_string(), self.by.attr()),
            ("reply_id".to_string(), self.reply_id.attr()),
            ("at_ms".to_string(), self.at_ms.attr()),
        ]))
    }
}

impl FromItem for PrivateReplyMark {
    fn from_item(item: &Item) -> Result<Self, StoreError> {
        let row = Row(item);
        Ok(PrivateReplyMark {
            by: row.req_s("by")?,
            reply_id: row.req_s("reply_id")?,
            at_ms: row.n("at_ms").ok_or_else(|| StoreError::Corrupt("private reply at_ms missing".into()))?,
        })
    }
}

/// A hand-off: the conversation header's `handoff` map, and the attributes of the hand-off
/// item (`by`, `from_conversation_id`, `comment_id`, `at_ms`).
impl ToItem for Handoff {
    fn to_item(&self) -> Item {
        Item::from([
            ("by".to_string(), self.by.attr()),
            ("from_conversation_id".to_string(), self.from_conversation_id.attr()),
            ("comment_id".to_string(), self.comment_id.attr()),
            ("at_ms".to_string(), self.at_ms.attr()),
        ])
    }
}

impl FromItem for Handoff {
    fn from_item(item: &Item) -> Result<Self, StoreError> {
        let row = Row(item);
        Ok(Handoff {
            by: row.req_s("by")?,
            from_conversation_id: row.req_s("from_conversation_id")?,
            comment_id: row.req_s("comment_id")?,
            at_ms: row.n("at_ms").ok_or_else(|| StoreError::Corrupt("hand-off at_ms missing".into()))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamo::codec::string_set;
    use domain::model::Conversation;

    #[test]
    fn conversation_comment_fields_read_back() {
        let h = Handoff {
            by: "a@b.c".into(),
            from_conversation_id: "1_2_p3".into(),
            comment_id: "3_4".into(),
            at_ms: 9,
        };
        let item = Item::from([
            ("conversation_id".to_string(), "1_2_p3".attr()),
            ("tenant_id".to_string(), "t".attr()),
            ("page_id".to_string(), "1".attr()),
            ("customer_id".to_string(), "2".attr()),
            ("last_activity_ms".to_string(), 5i64.attr()),
            ("post_id".to_string(), "1_3".attr()),
            ("phones".to_string(), string_set(&["0987654321".into(), "0912345678".into()])),
            ("handoff".to_string(), AttributeValue::M(h.to_item())),
        ]);
        let c = Conversation::from_item(&item).expect("conversation");
        assert_eq!(c.post_id.as_deref(), Some("1_3"));
        assert_eq!(c.phones, ["0912345678", "0987654321"], "sorted");
        assert_eq!(c.handoff, Some(h));
    }
}

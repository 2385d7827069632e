//! Page comments (`docs/comments.md`): what a comment conversation is, the state a stored
//! comment carries (edited, removed, hidden, privately replied), who may act on one, Meta's
//! limits on private replies, the Page's auto-hide setting, and the hand-off of a private
//! reply's Messenger follow-up to the agent who sent it. Pure: the storage is
//! [`crate::ports::CommentStore`], the edges are the worker and the admin API.

use serde::{Deserialize, Serialize};

use crate::access::Member;
use crate::model::Conversation;

/// Meta allows one private reply per comment, within 7 days of the comment.
pub const PRIVATE_REPLY_WINDOW_MS: i64 = 7 * 24 * 3_600_000;

/// Meta's stated limit of private replies per Page per hour (stated for Instagram; planned for
/// here too: `docs/comments.md`, "Meta's limits").
pub const PRIVATE_REPLIES_PER_HOUR: u32 = 750;

/// The conversation of one customer's comments on one post of a Page. Distinct from the
/// customer's Messenger conversation (`{page}_{psid}`): a comment author's id is not their PSID,
/// and each post is its own thread. `post_id` is Graph's `{page}_{post}`; only the post's own
/// part goes into the id.
pub fn comment_conversation_id(page_id: &str, author_id: &str, post_id: &str) -> String {
    let post = post_id.rsplit('_').next().unwrap_or(post_id);
    format!("{page_id}_{author_id}_p{post}")
}

/// Whether a comment id is one Graph issues (`{post}_{comment}`: digits around underscores),
/// so it may go into a Graph path and a storage key.
pub fn is_comment_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.split('_').all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

/// What the shop's auto-hide does with a Page's new comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoHide {
    #[default]
    Off,
    /// Comments in which [`crate::phones::find_phones`] finds a phone number.
    Phone,
    /// Every comment of a customer.
    All,
}

impl AutoHide {
    pub fn as_str(self) -> &'static str {
        match self {
            AutoHide::Off => "off",
            AutoHide::Phone => "phone",
            AutoHide::All => "all",
        }
    }

    pub fn parse(s: &str) -> Option<AutoHide> {
        [AutoHide::Off, AutoHide::Phone, AutoHide::All].into_iter().find(|a| a.as_str() == s)
    }

    /// Whether a new customer comment with this text is hidden at once.
    pub fn hides(self, text: Option<&str>) -> bool {
        match self {
            AutoHide::Off => false,
            AutoHide::All => true,
            AutoHide::Phone => text.is_some_and(|t| !crate::phones::find_phones(t).is_empty()),
        }
    }
}

/// A stored comment's own state, beside the message it is (`Message::comment`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CommentState {
    pub comment_id: String,
    pub post_id: Option<String>,
    /// The comment it answers; equal to `post_id` for a top-level comment.
    pub parent_id: Option<String>,
    /// Hidden at Meta (by the shop, by auto-hide, or as Meta reported).
    pub hidden: bool,
    /// Removed at Meta (by its author, or deleted by the shop); the text is kept.
    pub removed: bool,
    /// The text before the latest edit, if it was edited.
    pub previous_text: Option<String>,
    /// Meta's time of the latest edit applied (edits older than it change nothing).
    pub edited_ms: Option<i64>,
    /// The one private reply sent (or being sent) to this comment.
    pub private_reply: Option<PrivateReplyMark>,
}

/// Who sent the private reply to a comment, under which reply id, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateReplyMark {
    pub by: String,
    pub reply_id: String,
    pub at_ms: i64,
}

/// A change Meta (or the shop, through the API) made to a stored comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentChange {
    /// New text; the current text becomes `previous_text`. Applied only when `at_ms` is newer
    /// than the latest edit applied, so a redelivered or late edit changes nothing.
    Edited {
        text: Option<String>,
        at_ms: i64,
    },
    /// Removed at Meta; the text stays.
    Removed,
    Hidden(bool),
}

/// Where a Messenger conversation came from: the private reply that started it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handoff {
    /// The member who sent the private reply: the new Messenger conversation is theirs.
    pub by: String,
    /// The comment conversation and the comment the private reply answered.
    pub from_conversation_id: String,
    pub comment_id: String,
    pub at_ms: i64,
}

/// How long a pending hand-off waits for the customer's answer in Messenger.
pub const HANDOFF_TTL_MS: i64 = 30 * 24 * 3_600_000;

/// Whether the caller may act on a comment conversation's comments (reply, private reply,
/// hide, unhide, delete).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentRight {
    Allowed,
    /// Sees it (a pooled conversation of their rule, or held by another) but may not act: 403.
    NotYours,
    /// Does not see it: 404.
    Hidden,
}

/// The holder of the comment conversation acts on its comments, and so do the shop's owners and
/// admins (moderating a Page's comments is theirs too, unlike a Messenger reply, where one
/// customer hears one voice). `sees` says whether the caller can see the conversation at all
/// (it may wait in their rule's pool).
pub fn comment_right(me: &Member, c: &Conversation, sees: bool) -> CommentRight {
    if c.tenant_id != me.tenant_id {
        return CommentRight::Hidden;
    }
    if me.role.is_manager() || c.assignee.as_deref() == Some(me.email.as_str()) {
        CommentRight::Allowed
    } else if sees {
        CommentRight::NotYours
    } else {
        CommentRight::Hidden
    }
}

/// Why a private reply cannot be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivateReplyRefusal {
    /// The comment already has its one private reply.
    AlreadySent,
    /// The comment is older than [`PRIVATE_REPLY_WINDOW_MS`].
    OutsideWindow,
    /// The Page's own comment (nobody to reply to privately).
    OwnComment,
}

/// Whether a private reply to this comment may go out now.
pub fn private_reply_allowed(
    now_ms: i64,
    comment_ms: i64,
    from_customer: bool,
    state: &CommentState,
) -> Result<(), PrivateReplyRefusal> {
    if !from_customer {
        Err(PrivateReplyRefusal::OwnComment)
    } else if state.private_reply.is_some() {
        Err(PrivateReplyRefusal::AlreadySent)
    } else if now_ms.saturating_sub(comment_ms) > PRIVATE_REPLY_WINDOW_MS {
        Err(PrivateReplyRefusal::OutsideWindow)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TenantId;
    use crate::model::Role;

    fn member(email: &str, role: Role) -> Member {
        Member { email: email.into(), tenant_id: TenantId::parse("t1").expect("tenant"), role }
    }

    fn conv(assignee: Option<&str>) -> Conversation {
        Conversation {
            id: "1_2_p3".into(),
            tenant_id: "t1".into(),
            page_id: "1".into(),
            customer_id: "2".into(),
            assignee: assignee.map(str::to_string),
            post_id: Some("1_3".into()),
            ..Conversation::default()
        }
    }

    #[test]
    fn comment_conversations_are_per_author_and_post() {
        assert_eq!(comment_conversation_id("111", "222", "111_333"), "111_222_p333");
        assert_ne!(
            comment_conversation_id("111", "222", "111_333"),
            comment_conversation_id("111", "222", "111_334")
        );
        assert_ne!(
            comment_conversation_id("111", "222", "111_333"),
            crate::model::conversation_id("111", "222")
        );
    }

    #[test]
    fn comment_ids_are_graph_ids() {
        assert!(is_comment_id("123_456"));
        assert!(is_comment_id("123"));
        for bad in ["", "_1", "1_", "1__2", "1_a", "../1", "1/2", "1 2"] {
            assert!(!is_comment_id(bad), "{bad}");
        }
    }

    #[test]
    fn auto_hide_settings() {
        assert!(!AutoHide::Off.hides(Some("0912 345 678")));
        assert!(AutoHide::All.hides(Some("đẹp quá")));
        assert!(AutoHide::All.hides(None));
        assert!(AutoHide::Phone.hides(Some("ib mình 0912.345.678 nhé")));
        assert!(!AutoHide::Phone.hides(Some("giá 350.000đ")));
        assert!(!AutoHide::Phone.hides(None));
        for a in [AutoHide::Off, AutoHide::Phone, AutoHide::All] {
            assert_eq!(AutoHide::parse(a.as_str()), Some(a));
        }
        assert_eq!(AutoHide::parse("yes"), None);
    }

    #[test]
    fn holder_and_managers_act_others_do_not() {
        let c = conv(Some("a@x.vn"));
        assert_eq!(comment_right(&member("a@x.vn", Role::Agent), &c, true), CommentRight::Allowed);
        assert_eq!(comment_right(&member("o@x.vn", Role::Owner), &c, true), CommentRight::Allowed);
        assert_eq!(comment_right(&member("d@x.vn", Role::Admin), &c, true), CommentRight::Allowed);
        assert_eq!(comment_right(&member("b@x.vn", Role::Agent), &c, true), CommentRight::NotYours);
        assert_eq!(comment_right(&member("b@x.vn", Role::Agent), &c, false), CommentRight::Hidden);
        let other_shop =
            Member { tenant_id: TenantId::parse("t2").expect("tenant"), ..member("o@x.vn", Role::Owner) };
        assert_eq!(comment_right(&other_shop, &c, true), CommentRight::Hidden);
    }

    #[test]
    fn one_private_reply_within_seven_days() {
        let day = 24 * 3_600_000;
        let fresh = CommentState::default();
        assert_eq!(private_reply_allowed(10 * day, 4 * day, true, &fresh), Ok(()));
        assert_eq!(
            private_reply_allowed(12 * day, 4 * day, true, &fresh),
            Err(PrivateReplyRefusal::OutsideWindow)
        );
        let sent = CommentState {
            private_reply: Some(PrivateReplyMark {
                by: "a@x.vn".into(),
                reply_id: "reply:1".into(),
                at_ms: 1,
            }),
            ..CommentState::default()
        };
        assert_eq!(
            private_reply_allowed(5 * day, 4 * day, true, &sent),
            Err(PrivateReplyRefusal::AlreadySent)
        );
        assert_eq!(
            private_reply_allowed(5 * day, 4 * day, false, &fresh),
            Err(PrivateReplyRefusal::OwnComment)
        );
    }
}

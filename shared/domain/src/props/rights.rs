//! Who may read, reply and act on comments (`access.rs`, `reply.rs`, `comments.rs`), and
//! Meta's private-reply window: another shop's conversation is never visible; an agent never
//! gets a right on a conversation someone else holds; owners and admins always see their
//! shop's; nothing hidden names its holder.

use proptest::prelude::*;

use crate::access::Member;
use crate::comments::{
    CommentRight, CommentState, PRIVATE_REPLY_WINDOW_MS, PrivateReplyMark, PrivateReplyRefusal,
    comment_right, private_reply_allowed,
};
use crate::ids::TenantId;
use crate::model::{Conversation, Role};
use crate::reply::{ReplyRight, reply_right};

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(3000)
}

fn email() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a@shop.vn", "b@shop.vn", "owner@shop.vn"]).prop_map(str::to_string)
}

fn member() -> impl Strategy<Value = Member> {
    (
        email(),
        prop::sample::select(vec![Role::Owner, Role::Admin, Role::Agent]),
        prop::sample::select(vec!["A", "B"]),
    )
        .prop_map(|(email, role, t)| Member {
            email,
            tenant_id: TenantId::parse(t).expect("tenant"),
            role,
        })
}

/// Any holder and pool combination, in either shop (the store never writes both a holder and
/// a pool, but the rights must hold even if it did).
fn conversation() -> impl Strategy<Value = Conversation> {
    (
        prop::option::of(email()),
        prop::option::of(Just("r1".to_string())),
        prop::sample::select(vec!["A", "B"]),
    )
        .prop_map(|(assignee, pool_rule_id, t)| Conversation {
            id: "1_2".into(),
            tenant_id: t.into(),
            page_id: "1".into(),
            customer_id: "2".into(),
            assignee,
            pool_rule_id,
            ..Conversation::default()
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn reading_is_the_shops_and_the_holders(me in member(), c in conversation()) {
        let mine = c.tenant_id == me.tenant_id.as_str();
        let held_by_me = c.assignee.as_deref() == Some(me.email.as_str());
        prop_assert_eq!(me.can_read(&c), mine && (me.role.is_manager() || held_by_me));
    }

    /// Replies: another shop's is hidden; an agent replies only in what they hold; a manager
    /// replies in what they hold or what nobody holds outside a pool; a refusal names the
    /// holder only to whoever sees the conversation or its pool.
    #[test]
    fn only_the_holder_replies(me in member(), c in conversation()) {
        let mine = c.tenant_id == me.tenant_id.as_str();
        let held_by_me = c.assignee.as_deref() == Some(me.email.as_str());
        let r = reply_right(&me, &c);
        if !mine {
            prop_assert_eq!(&r, &ReplyRight::Hidden);
        }
        match r {
            ReplyRight::Allowed => prop_assert!(
                mine && (held_by_me || (me.role.is_manager() && c.assignee.is_none() && c.pool_rule_id.is_none()))
            ),
            ReplyRight::NotYours { holder } => {
                prop_assert!(mine && !held_by_me);
                prop_assert_eq!(holder, c.assignee.clone());
                prop_assert!(me.can_read(&c) || c.pool_rule_id.is_some());
            }
            ReplyRight::Hidden => prop_assert!(!me.can_read(&c) && c.pool_rule_id.is_none() || !mine),
        }
    }

    /// Comments: `Allowed` only in the shop, to managers and to the holder; someone else's is
    /// `NotYours` only to a caller who sees it, else `Hidden`.
    #[test]
    fn only_the_holder_or_a_manager_acts_on_comments(me in member(), c in conversation(), sees in any::<bool>()) {
        let mine = c.tenant_id == me.tenant_id.as_str();
        let held_by_me = c.assignee.as_deref() == Some(me.email.as_str());
        let want = if !mine {
            CommentRight::Hidden
        } else if me.role.is_manager() || held_by_me {
            CommentRight::Allowed
        } else if sees {
            CommentRight::NotYours
        } else {
            CommentRight::Hidden
        };
        prop_assert_eq!(comment_right(&me, &c, sees), want);
    }

    /// Meta's rule: one private reply per comment, to a customer's comment, within 7 days.
    /// Allowed at some moment, it is allowed at every earlier moment after the comment.
    #[test]
    fn a_private_reply_is_allowed_once_within_the_window(
        comment_ms in 0i64..1_000_000_000_000,
        after in 0i64..2 * PRIVATE_REPLY_WINDOW_MS,
        earlier in 0i64..2 * PRIVATE_REPLY_WINDOW_MS,
        from_customer in any::<bool>(),
        sent in any::<bool>(),
    ) {
        let state = CommentState {
            comment_id: "1_2".into(),
            private_reply: sent.then(|| PrivateReplyMark { by: "a@shop.vn".into(), reply_id: "reply:x".into(), at_ms: comment_ms }),
            ..CommentState::default()
        };
        let now = comment_ms + after;
        let verdict = private_reply_allowed(now, comment_ms, from_customer, &state);
        let want = if !from_customer {
            Err(PrivateReplyRefusal::OwnComment)
        } else if sent {
            Err(PrivateReplyRefusal::AlreadySent)
        } else if after > PRIVATE_REPLY_WINDOW_MS {
            Err(PrivateReplyRefusal::OutsideWindow)
        } else {
            Ok(())
        };
        prop_assert_eq!(verdict, want);
        if verdict.is_ok() {
            let before = comment_ms + after.min(earlier);
            prop_assert_eq!(private_reply_allowed(before, comment_ms, from_customer, &state), Ok(()));
        }
    }

    /// Any instants (a comment's time comes from Meta's body): an answer, never an overflow;
    /// outside the window exactly when more than 7 days have passed.
    #[test]
    fn the_private_reply_window_answers_for_any_instants(now in any::<i64>(), comment_ms in any::<i64>()) {
        let verdict = private_reply_allowed(now, comment_ms, true, &CommentState::default());
        let outside = i128::from(now) - i128::from(comment_ms) > i128::from(PRIVATE_REPLY_WINDOW_MS);
        prop_assert_eq!(verdict.is_err(), outside);
    }
}

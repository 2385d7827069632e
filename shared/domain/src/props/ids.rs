//! Identifiers (`ids.rs`, `queue_ids.rs`, `reply.rs`, the conversation ids): what goes into a
//! storage key or a queue id is accepted only in its safe form; ids derived from inputs are
//! stable (the same inputs, the same id) and distinct (different inputs, different ids).

use proptest::prelude::*;

use crate::comments::comment_conversation_id;
use crate::ids::{Email, PageId, TenantId};
use crate::model::conversation_id;
use crate::queue_ids::{MAX_FIFO_ID_LEN, fifo_id, job_dedup_id};
use crate::reply::{keyed_reply_id, reply_id_of_metadata};

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(800)
}

/// Strings near the edges: ids of the right shape, long ones, ones with `#`, `~`, blanks,
/// non-ASCII, and anything.
fn raw() -> impl Strategy<Value = String> {
    prop_oneof!["[!-~]{0,140}", "[a-z0-9]{120,135}", "[a-z #~_@.]{0,20}", "[0-9]{0,40}", any::<String>(),]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_shop_id_is_accepted_exactly_when_safe_in_a_key(s in raw()) {
        let safe = !s.is_empty() && s.len() <= TenantId::MAX_LEN && !s.contains('#');
        let parsed = TenantId::parse(&s);
        prop_assert_eq!(parsed.is_ok(), safe);
        if let Ok(t) = parsed {
            prop_assert_eq!(t.as_str(), s.as_str());
        }
    }

    #[test]
    fn a_page_id_is_digits_only(s in raw()) {
        let digits = !s.is_empty() && s.len() <= PageId::MAX_LEN && s.bytes().all(|b| b.is_ascii_digit());
        prop_assert_eq!(PageId::parse(&s).is_ok(), digits);
    }

    /// An email's parse is stable (parsing its own form gives it back) and ignores ASCII case
    /// and surrounding blanks: two spellings of one address are one member.
    #[test]
    fn an_email_has_one_form(local in "[A-Za-z0-9._%+-]{1,30}", domain in "[A-Za-z0-9.-]{1,30}", pad in "[ \t]{0,3}", s in raw()) {
        let e = Email::parse(&format!("{pad}{local}@{domain}{pad}")).expect("an address");
        prop_assert_eq!(Email::parse(e.as_str()), Ok(e.clone()));
        let upper = format!("{}@{}", local.to_ascii_uppercase(), domain.to_ascii_uppercase());
        prop_assert_eq!(Email::parse(&upper), Ok(e));
        if let Ok(any) = Email::parse(&s) {
            prop_assert_eq!(Email::parse(any.as_str()), Ok(any.clone()));
            prop_assert!(any.len() <= Email::MAX_LEN && any.contains('@'));
        }
    }

    /// SQS takes every id we make (1 to 128 characters from `!` to `~`); an id SQS takes is
    /// kept as it is; distinct inputs give distinct ids.
    #[test]
    fn fifo_ids_are_accepted_stable_and_distinct(a in raw(), b in raw()) {
        let (ia, ib) = (fifo_id(&a), fifo_id(&b));
        prop_assert!(!ia.is_empty() && ia.len() <= MAX_FIFO_ID_LEN, "{} characters", ia.len());
        prop_assert!(ia.bytes().all(|c| (b'!'..=b'~').contains(&c)), "{}", ia);
        prop_assert_eq!(&fifo_id(&a), &ia);
        if !a.is_empty() && a.len() <= MAX_FIFO_ID_LEN && a.bytes().all(|c| (b'!'..=b'~').contains(&c)) {
            prop_assert_eq!(&ia, &a);
        }
        if a != b {
            prop_assert_ne!(ia, ib);
        }
    }

    #[test]
    fn job_steps_are_deduplicated_by_job_and_step(a in raw(), b in raw(), s in any::<u32>(), t in any::<u32>()) {
        prop_assert_eq!(job_dedup_id(&a, s), job_dedup_id(&a, s));
        if (a.as_str(), s) != (b.as_str(), t) {
            prop_assert_ne!(job_dedup_id(&a, s), job_dedup_id(&b, t));
        }
    }

    /// A client's idempotency key gives the same reply id for the same caller, another for
    /// another caller or key, and the id is one the echo's metadata is recognised by.
    #[test]
    fn keyed_reply_ids_are_per_caller_and_key(c1 in "[a-z]{1,8}@shop.vn", c2 in "[a-z]{1,8}@shop.vn", k1 in "[ -~]{1,60}", k2 in "[ -~]{1,60}") {
        let id = keyed_reply_id(&c1, &k1).expect("a printable key");
        prop_assert_eq!(keyed_reply_id(&c1, &k1), Some(id.clone()));
        prop_assert_eq!(reply_id_of_metadata(&id), Some(id.as_str()));
        if (c1.as_str(), k1.as_str()) != (c2.as_str(), k2.as_str()) {
            prop_assert_ne!(keyed_reply_id(&c2, &k2), Some(id));
        }
    }

    /// Conversation ids (the queue group, the key of the conversation) are distinct for
    /// distinct Pages and customers, and a comment conversation never shares its Messenger
    /// thread's id or another post's.
    #[test]
    fn conversation_ids_are_distinct(p1 in "[0-9]{1,17}", c1 in "[0-9]{1,17}", p2 in "[0-9]{1,17}", c2 in "[0-9]{1,17}", post1 in "[0-9]{1,17}", post2 in "[0-9]{1,17}") {
        if (&p1, &c1) != (&p2, &c2) {
            prop_assert_ne!(conversation_id(&p1, &c1), conversation_id(&p2, &c2));
        }
        let comments = comment_conversation_id(&p1, &c1, &format!("{p1}_{post1}"));
        prop_assert_ne!(&comments, &conversation_id(&p2, &c2));
        prop_assert_eq!(&comments, &comment_conversation_id(&p1, &c1, &post1));
        if (&p1, &c1, &post1) != (&p2, &c2, &post2) {
            prop_assert_ne!(comments, comment_conversation_id(&p2, &c2, &format!("{p2}_{post2}")));
        }
    }
}

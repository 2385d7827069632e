//! Every key the store writes or reads by: the primary key of each kind of item, the index keys
//! of conversation headers and Page routes, and the prefixes listings query by (see
//! docs/table-design.md, "Items"). No other file of the store spells a key.
//!
//! `#` separates key parts; tenant ids never contain it, so `T#{tenant}#...` names one shop.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use domain::ports::Assignment;

use super::Item;

/// The sort key of a conversation's header item (its messages share the partition).
const META: &str = "#META";
/// The sort key of a Page's route item.
const ROUTE: &str = "ROUTE";
/// The sort key of a shop's settings item.
const SETTINGS: &str = "SETTINGS";
/// The sort key of the item that records a shop's founding.
const FOUNDED: &str = "FOUNDED";
/// The sort key of a single-use nonce.
const NONCE: &str = "NONCE";
const PAGE: &str = "PAGE#";
const MEMBER: &str = "MEMBER#";
const RULE: &str = "RULE#";
const RULE_NAME: &str = "RULENAME#";
const MESSAGE: &str = "M#";
const REPLY: &str = "R#";
/// The sort key of a Messenger conversation's pending hand-off (in its partition, so it goes
/// with the conversation when that is deleted).
const HANDOFF: &str = "HANDOFF";
const AUTO_HIDE: &str = "AUTOHIDE#";

/// The `gsi1pk` of every Page route: the health check's worklist in one index partition.
pub(super) const ROUTES: &str = "ROUTES";

/// The health sweep's one item: where the walk over the routes stands and which run holds it.
pub(super) fn health_sweep() -> Key {
    Key::new("HEALTH", "SWEEP")
}

/// The `gsi1pk` of a shop's Page item whose token expires (imported or disconnected, not
/// connected): the token sweep's worklist, a sparse index partition.
pub(super) const TOKEN_EXPIRY: &str = "TOKEN_EXPIRY";

/// The `gsi1sk` of a Page item under [`TOKEN_EXPIRY`]: its expiry, 15 digits.
pub(super) fn token_expiry(expires_ms: i64) -> String {
    format!("{:015}", expires_ms.max(0))
}

/// The primary key of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Key {
    pk: String,
    sk: String,
}

impl Key {
    fn new(pk: impl Into<String>, sk: impl Into<String>) -> Key {
        Key { pk: pk.into(), sk: sk.into() }
    }

    /// The key as a request's `Key` (or the start of an item to Put).
    pub(super) fn item(self) -> Item {
        HashMap::from([
            ("pk".to_string(), AttributeValue::S(self.pk)),
            ("sk".to_string(), AttributeValue::S(self.sk)),
        ])
    }

    /// The key of an item read back (from an index query), if it has one.
    pub(super) fn of_item(item: &Item) -> Option<Key> {
        match (item.get("pk"), item.get("sk")) {
            (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => {
                Some(Key::new(pk.clone(), sk.clone()))
            }
            _ => None,
        }
    }

    /// An item to Put: this key and `attrs`.
    pub(super) fn with(self, attrs: Item) -> Item {
        let mut item = self.item();
        item.extend(attrs);
        item
    }
}

/// A shop's partition (members, settings, Pages, rules); also the `gsi2pk` of its
/// conversation headers, the whole-shop inbox.
pub(super) fn shop(tenant: &str) -> String {
    format!("T#{tenant}")
}

/// The shop's view of a Page.
pub(super) fn page(tenant: &str, page_id: &str) -> Key {
    Key::new(shop(tenant), format!("{PAGE}{page_id}"))
}

/// The route of a Page to the one shop receiving it.
pub(super) fn route(page_id: &str) -> Key {
    Key::new(format!("{PAGE}{page_id}"), ROUTE)
}

pub(super) fn member(tenant: &str, email: &str) -> Key {
    Key::new(shop(tenant), format!("{MEMBER}{email}"))
}

/// The item written once, when the shop's first owner founds it.
pub(super) fn founding(tenant: &str) -> Key {
    Key::new(shop(tenant), FOUNDED)
}

pub(super) fn settings(tenant: &str) -> Key {
    Key::new(shop(tenant), SETTINGS)
}

pub(super) fn rule(tenant: &str, rule_id: &str) -> Key {
    Key::new(shop(tenant), format!("{RULE}{rule_id}"))
}

/// The item that claims a rule's name (case-insensitive), so two rules never share it.
pub(super) fn rule_name(tenant: &str, name: &str) -> Key {
    Key::new(shop(tenant), format!("{RULE_NAME}{}", name.to_lowercase()))
}

pub(super) fn nonce(nonce: &str) -> Key {
    Key::new(format!("NONCE#{nonce}"), NONCE)
}

/// A conversation's partition: its header and its messages.
pub(super) fn conversation(tenant: &str, conversation_id: &str) -> String {
    format!("T#{tenant}#C#{conversation_id}")
}

/// A conversation's header item.
pub(super) fn header(tenant: &str, conversation_id: &str) -> Key {
    Key::new(conversation(tenant, conversation_id), META)
}

pub(super) fn message(tenant: &str, conversation_id: &str, mid: &str) -> Key {
    Key::new(conversation(tenant, conversation_id), format!("{MESSAGE}{mid}"))
}

/// A reply's own record, under its reply id (listed in the thread until it is sent, when the
/// message under Meta's id takes its place).
pub(super) fn reply(tenant: &str, conversation_id: &str, reply_id: &str) -> Key {
    Key::new(conversation(tenant, conversation_id), format!("{REPLY}{reply_id}"))
}

/// A Page comment: the message item under the comment's id (a comment is a message of its
/// comment conversation).
pub(super) fn comment(tenant: &str, conversation_id: &str, comment_id: &str) -> Key {
    message(tenant, conversation_id, comment_id)
}

/// The `gsi1pk` of a stored comment: the sparse index entry that finds it by its id within its
/// shop (its `gsi1sk` is the conversation id). No conversation header, route or Page item has a
/// `gsi1pk` starting `CMT#`.
pub(super) fn comment_lookup(tenant: &str, comment_id: &str) -> String {
    format!("CMT#{tenant}#{comment_id}")
}

/// The hand-off waiting for a Messenger conversation's first answer.
pub(super) fn handoff(tenant: &str, conversation_id: &str) -> Key {
    Key::new(conversation(tenant, conversation_id), HANDOFF)
}

/// A Page's auto-hide setting in the shop.
pub(super) fn auto_hide(tenant: &str, page_id: &str) -> Key {
    Key::new(shop(tenant), format!("{AUTO_HIDE}{page_id}"))
}

/// A message's `lsi1sk`: its time (15 digits) then its id, so the index orders by time.
pub(super) fn message_order(sent_ms: i64, mid: &str) -> String {
    format!("{:015}#{mid}", sent_ms.max(0))
}

/// The `gsi1pk` of the inbox a conversation header is in: its agent's, its pool's, or the
/// unassigned one.
pub(super) fn inbox(tenant: &str, a: &Assignment) -> String {
    match a {
        Assignment::Agent(e) => format!("T#{tenant}#U#{e}"),
        Assignment::Pool(r) => format!("T#{tenant}#POOL#{r}"),
        Assignment::Unassigned => format!("T#{tenant}#UNASSIGNED"),
    }
}

/// The `gsi3pk` of a conversation header: the inbox of one Page of the shop.
pub(super) fn page_inbox(tenant: &str, page_id: &str) -> String {
    format!("T#{tenant}#P#{page_id}")
}

/// The inbox move log of a shop (see `walk`).
pub(super) fn moves(tenant: &str) -> String {
    format!("T#{tenant}#MOVES")
}

/// One entry of the move log: labels (15 digits) order the log, the conversation id makes the
/// key unique.
pub(super) fn move_entry(tenant: &str, label: i64, conversation_id: &str) -> Key {
    Key::new(moves(tenant), format!("{label:015}#{conversation_id}"))
}

/// The sort key below every move-log entry labelled after `t0`.
pub(super) fn moves_after(t0: i64) -> String {
    format!("{:015}#", t0.max(0))
}

/// A Facebook user's partition: the (shop, Page) links of what they imported.
fn facebook_user(user_id: &str) -> String {
    format!("FBUSER#{user_id}")
}

const LINK: &str = "LINK#";
const IMPORTER: &str = "FBIMPORTER#";

/// One (shop, Page) the person imported (user ids are digits, tenant ids have no `#`).
pub(super) fn facebook_link(user_id: &str, tenant: &str, page_id: &str) -> Key {
    Key::new(facebook_user(user_id), format!("{LINK}{tenant}#{page_id}"))
}

/// Who last imported a Page into a shop (whose token the shop holds).
pub(super) fn page_importer(tenant: &str, page_id: &str) -> Key {
    Key::new(shop(tenant), format!("{IMPORTER}{page_id}"))
}

/// A data-deletion request, by its confirmation code.
pub(super) fn deletion(code: &str) -> Key {
    Key::new(format!("DELETION#{code}"), "DELETION")
}

/// The items of one kind in one partition: its key and the sort-key prefix they share.
pub(super) struct Prefix {
    pub(super) pk: String,
    pub(super) sk: &'static str,
}

pub(super) fn pages_of(tenant: &str) -> Prefix {
    Prefix { pk: shop(tenant), sk: PAGE }
}

pub(super) fn members_of(tenant: &str) -> Prefix {
    Prefix { pk: shop(tenant), sk: MEMBER }
}

pub(super) fn rules_of(tenant: &str) -> Prefix {
    Prefix { pk: shop(tenant), sk: RULE }
}

pub(super) fn links_of(user_id: &str) -> Prefix {
    Prefix { pk: facebook_user(user_id), sk: LINK }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pk_sk(k: Key) -> (String, String) {
        (k.pk, k.sk)
    }

    #[test]
    fn keys_are_those_of_the_table_design() {
        let k = |pk: &str, sk: &str| (pk.to_string(), sk.to_string());
        assert_eq!(pk_sk(page("t", "p")), k("T#t", "PAGE#p"));
        assert_eq!(pk_sk(route("p")), k("PAGE#p", "ROUTE"));
        assert_eq!(pk_sk(member("t", "a@b.c")), k("T#t", "MEMBER#a@b.c"));
        assert_eq!(pk_sk(settings("t")), k("T#t", "SETTINGS"));
        assert_eq!(pk_sk(founding("t")), k("T#t", "FOUNDED"));
        assert_eq!(pk_sk(rule("t", "r")), k("T#t", "RULE#r"));
        assert_eq!(pk_sk(rule_name("t", "Ca Sáng")), k("T#t", "RULENAME#ca sáng"));
        assert_eq!(pk_sk(nonce("n")), k("NONCE#n", "NONCE"));
        assert_eq!(pk_sk(header("t", "p_c")), k("T#t#C#p_c", "#META"));
        assert_eq!(pk_sk(message("t", "p_c", "m")), k("T#t#C#p_c", "M#m"));
        assert_eq!(message_order(42, "m"), "000000000000042#m");
        assert_eq!(pk_sk(reply("t", "p_c", "reply:r")), k("T#t#C#p_c", "R#reply:r"));
        assert_eq!(pk_sk(comment("t", "p_c_p9", "9_1")), k("T#t#C#p_c_p9", "M#9_1"));
        assert_eq!(comment_lookup("t", "9_1"), "CMT#t#9_1");
        assert_eq!(pk_sk(handoff("t", "p_c")), k("T#t#C#p_c", "HANDOFF"));
        assert_eq!(pk_sk(auto_hide("t", "p")), k("T#t", "AUTOHIDE#p"));
        assert_eq!(inbox("t", &Assignment::Agent("a@b.c".into())), "T#t#U#a@b.c");
        assert_eq!(inbox("t", &Assignment::Pool("r".into())), "T#t#POOL#r");
        assert_eq!(inbox("t", &Assignment::Unassigned), "T#t#UNASSIGNED");
        assert_eq!(page_inbox("t", "p"), "T#t#P#p");
        assert_eq!(pk_sk(move_entry("t", 7, "p_c")), k("T#t#MOVES", "000000000000007#p_c"));
        assert_eq!(moves_after(-1), "000000000000000#");
        let Prefix { pk, sk } = rules_of("t");
        assert_eq!((pk.as_str(), sk), ("T#t", "RULE#"));
        assert_eq!(pk_sk(facebook_link("10", "t", "p")), k("FBUSER#10", "LINK#t#p"));
        assert_eq!(pk_sk(page_importer("t", "p")), k("T#t", "FBIMPORTER#p"));
        assert_eq!(pk_sk(deletion("c")), k("DELETION#c", "DELETION"));
        let Prefix { pk, sk } = links_of("10");
        assert_eq!((pk.as_str(), sk), ("FBUSER#10", "LINK#"));
    }
}

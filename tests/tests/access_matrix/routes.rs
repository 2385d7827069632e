//! The matrix's one table (a route may have more than one row: the claim is tried on a held and
//! on a pooled conversation): every admin API route with the answer each kind of caller gets on
//! an object of their own shop and on one of another shop; and the check that the table lists
//! exactly the router's routes.

/// Who calls. The first four are refused by the authorizer; the next four are members of
/// shop A; the last is the owner of shop B.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    Garbage,
    Forged,
    Expired,
    Owner,
    Admin,
    /// The agent of the rule who holds the shop's conversations.
    Holder,
    /// An agent of the shop outside the rule: holds nothing.
    OtherAgent,
    OwnerOfB,
}

impl Caller {
    /// Everyone but shop B's owner (whose calls run in a second phase).
    pub const SHOP_A_SIDE: [Caller; 8] = [
        Caller::Anonymous,
        Caller::Garbage,
        Caller::Forged,
        Caller::Expired,
        Caller::Owner,
        Caller::Admin,
        Caller::Holder,
        Caller::OtherAgent,
    ];

    pub fn authenticated(self) -> bool {
        !matches!(self, Caller::Anonymous | Caller::Garbage | Caller::Forged | Caller::Expired)
    }
}

/// Which object the path names: one of the caller's shop, or one of the other shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    None,
    Own,
    Foreign,
}

/// The kind of the route's path parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    None,
    Email,
    Page,
    Rule,
    Conversation,
    /// A conversation waiting in a self-claim pool of the holder.
    Pooled,
    Comment,
}

/// Expected status, and error code when it is an error the table pins.
pub type Expect = (u16, Option<&'static str>);

pub struct Row {
    pub method: &'static str,
    pub path: &'static str,
    pub param: Param,
    /// An allowed call consumes its own-shop target: each cell gets a fresh one.
    pub disposable: bool,
    /// Owner, admin, holder, other agent, on their own shop's object.
    pub own: [Expect; 4],
    /// The same callers on the other shop's object (unused without a path parameter).
    pub foreign: [Expect; 4],
}

const OK: Expect = (200, None);
const CREATED: Expect = (201, None);
/// Only owners and admins (`Manager`): agents are refused before anything is read.
const MANAGERS: Expect = (403, Some("forbidden"));
const NOT_FOUND: Expect = (404, Some("not_found"));
/// The seeded Pages have no token: an allowed call that would reach Meta stops here.
const NO_TOKEN: Expect = (409, Some("reconnect_required"));
const NOT_YOURS: Expect = (403, Some("not_your_conversation"));
const HIDDEN: [Expect; 4] = [NOT_FOUND; 4];
const MANAGED_HIDDEN: [Expect; 4] = [NOT_FOUND, NOT_FOUND, MANAGERS, MANAGERS];
const ALL_OK: [Expect; 4] = [OK; 4];
const MANAGED_OK: [Expect; 4] = [OK, OK, MANAGERS, MANAGERS];

const fn row(
    method: &'static str,
    path: &'static str,
    param: Param,
    own: [Expect; 4],
    foreign: [Expect; 4],
) -> Row {
    Row { method, path, param, disposable: false, own, foreign }
}

const fn disposable(mut r: Row) -> Row {
    r.disposable = true;
    r
}

use Param as P;

pub const ROWS: &[Row] = &[
    row("GET", "/api/me", P::None, ALL_OK, HIDDEN),
    row("GET", "/api/members", P::None, ALL_OK, HIDDEN),
    row("POST", "/api/members", P::None, [CREATED, CREATED, MANAGERS, MANAGERS], HIDDEN),
    disposable(row("DELETE", "/api/members/{email}", P::Email, MANAGED_OK, MANAGED_HIDDEN)),
    row("GET", "/api/pages", P::None, ALL_OK, HIDDEN),
    // Its own connected Page: refused until disconnected. Another shop's Page: the caller's
    // shop has no such Page, so nothing of it is deleted (202 `absent`).
    row(
        "DELETE",
        "/api/pages/{page_id}",
        P::Page,
        [(409, Some("page_connected")), (409, Some("page_connected")), MANAGERS, MANAGERS],
        [(202, None), (202, None), MANAGERS, MANAGERS],
    ),
    row(
        "POST",
        "/api/pages/{page_id}/connect",
        P::Page,
        [NO_TOKEN, NO_TOKEN, MANAGERS, MANAGERS],
        MANAGED_HIDDEN,
    ),
    disposable(row("POST", "/api/pages/{page_id}/disconnect", P::Page, MANAGED_OK, MANAGED_HIDDEN)),
    row("GET", "/api/facebook/login-url", P::None, MANAGED_OK, HIDDEN),
    row("GET", "/api/rules", P::None, MANAGED_OK, HIDDEN),
    row("POST", "/api/rules", P::None, [CREATED, CREATED, MANAGERS, MANAGERS], HIDDEN),
    row("GET", "/api/rules/{rule_id}", P::Rule, MANAGED_OK, MANAGED_HIDDEN),
    row("PUT", "/api/rules/{rule_id}", P::Rule, MANAGED_OK, MANAGED_HIDDEN),
    row(
        "DELETE",
        "/api/rules/{rule_id}",
        P::Rule,
        [(409, Some("rule_has_pages")), (409, Some("rule_has_pages")), MANAGERS, MANAGERS],
        MANAGED_HIDDEN,
    ),
    row("GET", "/api/conversations", P::None, ALL_OK, HIDDEN),
    row("GET", "/api/conversations/{id}", P::Conversation, [OK, OK, OK, NOT_FOUND], HIDDEN),
    // Held by the holder: managers and the holder learn who holds it, the other agent nothing.
    row(
        "POST",
        "/api/conversations/{id}/claim",
        P::Conversation,
        [
            (409, Some("already_claimed")),
            (409, Some("already_claimed")),
            (409, Some("already_claimed")),
            NOT_FOUND,
        ],
        HIDDEN,
    ),
    // A pooled conversation: only the agents of its rule claim it (the holder wins it); owners
    // and admins outside the rule, the other agent, and any other shop: not found.
    row("POST", "/api/conversations/{id}/claim", P::Pooled, [NOT_FOUND, NOT_FOUND, OK, NOT_FOUND], HIDDEN),
    row("GET", "/api/conversations/{id}/messages", P::Conversation, [OK, OK, OK, NOT_FOUND], HIDDEN),
    // Only the holder replies; managers who see it are told it is not theirs.
    row(
        "POST",
        "/api/conversations/{id}/messages",
        P::Conversation,
        [NOT_YOURS, NOT_YOURS, NO_TOKEN, NOT_FOUND],
        HIDDEN,
    ),
    row(
        "DELETE",
        "/api/comments/{comment_id}",
        P::Comment,
        [NO_TOKEN, NO_TOKEN, NO_TOKEN, NOT_FOUND],
        HIDDEN,
    ),
    row(
        "POST",
        "/api/comments/{comment_id}/hide",
        P::Comment,
        [NO_TOKEN, NO_TOKEN, NO_TOKEN, NOT_FOUND],
        HIDDEN,
    ),
    row(
        "POST",
        "/api/comments/{comment_id}/unhide",
        P::Comment,
        [NO_TOKEN, NO_TOKEN, NO_TOKEN, NOT_FOUND],
        HIDDEN,
    ),
    row("GET", "/api/pages/{page_id}/comment-settings", P::Page, ALL_OK, HIDDEN),
    row("PUT", "/api/pages/{page_id}/comment-settings", P::Page, MANAGED_OK, MANAGED_HIDDEN),
    row("GET", "/api/settings", P::None, ALL_OK, HIDDEN),
    row("PUT", "/api/settings", P::None, MANAGED_OK, HIDDEN),
];

/// The expected answer of one cell.
pub fn expect(row: &Row, caller: Caller, target: Target) -> Expect {
    let i = match caller {
        Caller::Anonymous => return (401, Some("missing_token")),
        Caller::Garbage | Caller::Forged | Caller::Expired => return (401, Some("invalid_token")),
        Caller::Owner | Caller::OwnerOfB => 0,
        Caller::Admin => 1,
        Caller::Holder => 2,
        Caller::OtherAgent => 3,
    };
    match target {
        Target::Foreign => row.foreign[i],
        Target::None | Target::Own => row.own[i],
    }
}

/// The route's path with its parameter set to `id`.
pub fn fill(path: &str, id: &str) -> String {
    match (path.find('{'), path.find('}')) {
        (Some(s), Some(e)) => format!("{}{id}{}", &path[..s], &path[e + 1..]),
        _ => path.to_string(),
    }
}

/// How many cells the table makes: a route with a path parameter is called on both shops.
pub fn cell_count() -> usize {
    let callers = Caller::SHOP_A_SIDE.len() + 1;
    ROWS.iter().map(|r| if r.param == Param::None { callers } else { 2 * callers }).sum()
}

/// The router's source, as compiled into admin-api.
const ROUTER_SOURCE: &str = include_str!("../../../functions/admin-api/src/lib.rs");

/// Every `METHOD path` the router declares: each `.route("path", ...)` call of `router` and the
/// method functions (`get(`, `.post(`, ...) it chains.
pub fn router_routes() -> Vec<String> {
    let start = ROUTER_SOURCE.find("pub fn router(").expect("the router function");
    let body = &ROUTER_SOURCE[start..];
    let end = body.find(".fallback(").expect("the router's fallback");
    let mut out = Vec::new();
    for chunk in body[..end].split(".route(").skip(1) {
        let chunk = chunk.split(".route_layer(").next().unwrap_or_default();
        let path = chunk.split('"').nth(1).expect("a route's path literal");
        let bytes = chunk.as_bytes();
        for method in ["get", "post", "put", "delete", "patch", "head", "options", "any"] {
            let pattern = format!("{method}(");
            for (at, _) in chunk.match_indices(&pattern) {
                let before = at.checked_sub(1).map(|i| bytes[i]);
                let is_call = !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':');
                if is_call {
                    out.push(format!("{} {path}", method.to_uppercase()));
                }
            }
        }
    }
    out.sort();
    out
}

/// Fails naming every route the router has and the table lacks (and every row of no route).
pub fn assert_table_matches_router() {
    let router = router_routes();
    assert!(router.len() >= 20, "the router's routes were read: {router:?}");
    let mut table: Vec<String> = ROWS.iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    table.sort();
    let missing: Vec<&String> = router.iter().filter(|r| !table.contains(r)).collect();
    let extra: Vec<&String> = table.iter().filter(|r| !router.contains(r)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "the access matrix must have one row per admin API route: missing rows {missing:?}, rows of no route {extra:?}"
    );
}

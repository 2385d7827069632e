//! The route × role × shop matrix (issue 13, "Proofs in CI"): every admin API route, called by
//! every kind of caller (no token, a garbage, forged or expired token, the owner, an admin,
//! the agent holding the conversation, an agent who does not, and the owner of another shop),
//! on an object of the caller's shop and on one of the other shop. For every cell it checks the
//! status (and error code) against one table, the error shape of the contract, and that no
//! answer carries any id, name, email or text of the other shop. After the calls of each
//! side, the other shop is re-read whole: a refused write must have changed nothing.
//!
//! Where the expectations come from: `/work/shared/PRODUCT.md` ("Admin API": errors
//! `{"error":{"code","message"}}`, a user only ever sees their own shop, an agent only what
//! the rules give; "Comments": holder or owner/admin, others 403/404), `docs/rules.md` (who may
//! claim, who replies), `docs/facebook-login.md` ("Shops and members": owners and admins
//! manage members, Pages, rules and settings), `docs/page-custody.md` (a shop acts at Meta only
//! on a Page it holds; the seeded Pages have no token, so an allowed call that would reach Meta
//! stops at 409 `reconnect_required` before any request leaves), `docs/data-retention.md`
//! (`DELETE /api/pages/{id}` of a Page the shop does not have answers 202 `absent`: deleting
//! nothing reveals nothing).
//!
//! The table's route list is checked against the router's source (`functions/admin-api/src/
//! lib.rs`, read at compile time): a route added to the router without a row fails this test.

#[path = "access_matrix/routes.rs"]
mod routes;
#[path = "access_matrix/world.rs"]
mod world;

use integration_tests::*;
use routes::{Caller, Param, ROWS, Row, Target};
use serde_json::{Value, json};
use world::{Shop, ShopSpec};

/// A token the local authorizer must refuse for `caller` (None: send no Authorization).
fn bad_token(caller: Caller, a: &Shop) -> Option<String> {
    let secret = |s: &str| secrecy::SecretString::from(s.to_string());
    match caller {
        Caller::Anonymous => None,
        Caller::Garbage => Some("not-a-jwt".into()),
        Caller::Forged => Some(
            local_stack::auth::mint(&secret("someone-elses-secret"), &a.owner, &a.tenant, "owner", 3600)
                .expect("mint"),
        ),
        _ => {
            let mut claims = local_stack::auth::claims(&a.owner, &a.tenant, "owner", 3600);
            let past = domain::timefmt::now_ms() / 1000 - 7200;
            claims["nbf"] = json!(past - 60);
            claims["iat"] = json!(past - 60);
            claims["exp"] = json!(past);
            Some(local_stack::auth::mint_claims(&secret(JWT_SECRET), &claims).expect("mint"))
        }
    }
}

/// The caller's shop (unauthenticated callers act on shop A) and the other one.
fn shops<'s>(caller: Caller, a: &'s Shop, b: &'s Shop) -> (&'s Shop, &'s Shop) {
    if caller == Caller::OwnerOfB { (b, a) } else { (a, b) }
}

fn token_of(caller: Caller, a: &Shop, b: &Shop) -> Option<String> {
    Some(match caller {
        Caller::Owner => a.owner_token.clone(),
        Caller::Admin => a.admin_token.clone(),
        Caller::Holder => a.holder_token.clone(),
        Caller::OtherAgent => a.other_token.clone(),
        Caller::OwnerOfB => b.owner_token.clone(),
        _ => return bad_token(caller, a),
    })
}

/// The path parameter of a cell: an object of `shop`; for the writes that would consume their
/// target when allowed, a disposable one made for this cell.
async fn target_id(stack: &local_stack::RunningStack, row: &Row, shop: &Shop, own: bool) -> String {
    let disposable = own && row.disposable;
    match row.param {
        Param::None => String::new(),
        Param::Email if disposable => shop.disposable_member(stack).await,
        Param::Email => shop.other.clone(),
        Param::Page if disposable => shop.disposable_page(stack).await,
        Param::Page => shop.page_id.clone(),
        Param::Rule => shop.rule_id.clone(),
        Param::Conversation => shop.conversation_id.clone(),
        Param::Pooled => shop.pooled_conversation_id.clone(),
        Param::Comment => shop.comment_id.clone(),
    }
}

/// The body of a cell, always valid for the caller's own shop, so that a refusal is about who
/// calls and what they name, not about the body.
async fn body_of(stack: &local_stack::RunningStack, row: &Row, mine: &Shop) -> Option<Value> {
    Some(match (row.method, row.path) {
        ("POST", "/api/members") => json!({"email": mine.fresh_email("new"), "role": "agent"}),
        ("POST", "/api/pages/{page_id}/connect") => json!({"chat_mode": "only_me"}),
        ("POST", "/api/rules") => {
            let page = mine.disposable_page(stack).await;
            json!({"name": format!("{}-RULE-{page}", mine.tag.to_uppercase()), "page_ids": [page],
                   "agent_emails": [mine.holder], "method": "self_claim"})
        }
        ("PUT", "/api/rules/{rule_id}") => mine.rule_body(),
        ("POST", "/api/conversations/{id}/messages") => json!({"text": "matrix reply"}),
        ("PUT", "/api/pages/{page_id}/comment-settings") => json!({"auto_hide": "phone"}),
        ("PUT", "/api/settings") => json!({"human_agent_tag": false}),
        _ => return None,
    })
}

async fn call(
    stack: &local_stack::RunningStack,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, String) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = http().request(m, stack.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let r = req.send().await.expect("request");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

/// Runs every cell of `callers`; returns the failures (each naming its cell) and the count.
async fn run_cells(
    stack: &local_stack::RunningStack,
    a: &Shop,
    b: &Shop,
    callers: &[Caller],
) -> (Vec<String>, usize) {
    let mut failures = Vec::new();
    let mut cells = 0;
    for row in ROWS {
        for &caller in callers {
            let targets: &[Target] =
                if row.param == Param::None { &[Target::None] } else { &[Target::Own, Target::Foreign] };
            for &target in targets {
                cells += 1;
                let (mine, theirs) = shops(caller, a, b);
                let on = if target == Target::Foreign { theirs } else { mine };
                let id = target_id(stack, row, on, target != Target::Foreign).await;
                let path = routes::fill(row.path, &id);
                let body = body_of(stack, row, mine).await;
                let token = token_of(caller, a, b);
                let (status, text) = call(stack, row.method, &path, token.as_deref(), body.as_ref()).await;
                let cell = format!("{} {} as {caller:?} on {target:?} ({path})", row.method, row.path);
                let want = routes::expect(row, caller, target);
                if let Err(e) = check(status, &text, want, caller, a, b, &path) {
                    failures.push(format!("{cell}: {e}"));
                }
            }
        }
    }
    (failures, cells)
}

/// One cell's answer: status and error code as the table says, the contract's error shape,
/// and no marker of a shop the caller is not a member of (the id the caller named in the
/// path aside: an answer may repeat what it was asked about).
fn check(
    status: u16,
    text: &str,
    want: routes::Expect,
    caller: Caller,
    a: &Shop,
    b: &Shop,
    path: &str,
) -> Result<(), String> {
    let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    if status != want.0 {
        return Err(format!("status {status}, expected {} ({text})", want.0));
    }
    if status >= 400 {
        let code = body["error"]["code"].as_str();
        let shaped = code.is_some_and(|c| !c.is_empty()) && body["error"]["message"].is_string();
        if !shaped {
            return Err(format!("not the contract's error shape: {text}"));
        }
        if let Some(expected) = want.1
            && code != Some(expected)
        {
            return Err(format!("code {code:?}, expected {expected} ({text})"));
        }
    }
    let foreign: Vec<&Shop> = match caller {
        c if c.authenticated() => vec![shops(caller, a, b).1],
        _ => vec![a, b],
    };
    for shop in foreign {
        for marker in shop.markers() {
            if text.contains(&marker) && !path.contains(&marker) {
                return Err(format!("the answer carries {}'s `{marker}`: {text}", shop.tag));
            }
        }
    }
    Ok(())
}

async fn every_route_role_and_shop(backend: Backend) {
    let started = std::time::Instant::now();
    routes::assert_table_matches_router();
    let stack = start_stack(backend).await;
    let a = world::seed(&stack, ShopSpec { tag: "alpha", digit: '7' }).await;
    let b = world::seed(&stack, ShopSpec { tag: "beta", digit: '8' }).await;

    // Shop A's side (and the unauthenticated): shop B must come out unchanged.
    let before_b = world::snapshot(&stack, &b).await;
    world::assert_markers_visible(&before_b, &b);
    let (mut failures, mut cells) = run_cells(&stack, &a, &b, &Caller::SHOP_A_SIDE).await;
    // Erasure jobs queued by `DELETE /api/pages/{B's Page}` run in the worker: let them.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let after_b = world::snapshot(&stack, &b).await;
    if let Some(d) = world::changes(&before_b, &after_b) {
        failures.push(format!("shop B changed under shop A's calls: {d}"));
    }

    // Shop B's owner: shop A must come out unchanged.
    let before_a = world::snapshot(&stack, &a).await;
    world::assert_markers_visible(&before_a, &a);
    let (more, n) = run_cells(&stack, &a, &b, &[Caller::OwnerOfB]).await;
    failures.extend(more);
    cells += n;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let after_a = world::snapshot(&stack, &a).await;
    if let Some(d) = world::changes(&before_a, &after_a) {
        failures.push(format!("shop A changed under shop B's calls: {d}"));
    }

    report(&format!(
        "access matrix on {backend:?}: {} routes, {} rows, {cells} cells, {} failures, {:.1} s",
        routes::router_routes().len(),
        ROWS.len(),
        failures.len(),
        started.elapsed().as_secs_f64()
    ));
    assert_eq!(cells, routes::cell_count(), "every row × caller × target was called");
    assert!(failures.is_empty(), "{} failures in {cells} cells:\n{}", failures.len(), failures.join("\n"));
}

on_both_backends!(every_route_role_and_shop);

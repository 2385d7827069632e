//! The fake's server: every request is recorded, routed by method and path (any `/vNN.N`
//! prefix), answered with a queued failure if any, else handled against the shared state the
//! way Graph would (tokens checked, results paged with cursors).

use std::collections::VecDeque;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::comments;
use super::shapes::{GraphErr, graph_error, graph_error_response, invalid_token, meta_time, token_answer};
use super::{
    DEFAULT_USER_ID, FAKE_APP_NAME, FakeConversation, FakeFailure, FakeGrant, FakeMessage, FakePage,
    FakeState, RecordedRequest, SentEvent, Shared, lock,
};

/// The path without its `/vNN.N` prefix.
fn unversioned(path: &str) -> &str {
    let Some(rest) = path.strip_prefix("/v") else { return path };
    let end = rest.find('/').unwrap_or(rest.len());
    let version = &rest[..end];
    if !version.is_empty() && version.chars().all(|c| c.is_ascii_digit() || c == '.') {
        &rest[end..]
    } else {
        path
    }
}

fn route_key(method: &Method, path: &str, params: &[(String, String)], body: &[u8]) -> &'static str {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let grant = params.iter().find(|(k, _)| k == "grant_type").map(|(_, v)| v.as_str());
    match (method.as_str(), segments.as_slice()) {
        ("POST", [_, "messages"]) if comments::is_private_reply(body) => "private_reply",
        ("POST", [id, "comments"]) if !id.is_empty() => "reply_comment",
        ("GET", [id, "comments"]) if !id.is_empty() => "comments",
        ("GET", [_, "posts"]) => "posts",
        ("POST", [id]) if id.contains('_') => "hide_comment",
        ("DELETE", [id]) if id.contains('_') => "delete_comment",
        ("GET", ["oauth", "access_token"]) if grant == Some("fb_exchange_token") => "long_lived",
        ("GET", ["oauth", "access_token"]) => "exchange",
        ("GET", ["me", "permissions"]) => "permissions",
        ("GET", ["me", "accounts"]) => "accounts",
        ("GET", ["me"]) => "me",
        ("POST", [_, "subscribed_apps"]) => "subscribe",
        ("DELETE", [_, "subscribed_apps"]) => "unsubscribe",
        ("GET", [_, "subscribed_apps"]) => "subscribed_apps",
        ("GET", ["debug_token"]) => "debug_token",
        ("GET", [_, "conversations"]) => "conversations",
        ("POST", [_, "messages"]) => "send",
        ("GET", [id]) if !id.is_empty() => "profile",
        _ => "unknown",
    }
}

pub(super) type Answer = Result<Value, GraphErr>;

pub(super) async fn handle(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    body: axum::body::Bytes,
) -> Response {
    let mut resp = answer(&state, method, uri, body).await;
    let headers = lock(&state).usage_headers.clone();
    for (name, value) in headers {
        // A value a header cannot carry is left out (tests send odd but printable ones).
        if let (Ok(n), Ok(v)) =
            (axum::http::HeaderName::from_bytes(name.as_bytes()), axum::http::HeaderValue::from_str(&value))
        {
            resp.headers_mut().insert(n, v);
        }
    }
    resp
}

async fn answer(state: &Shared, method: Method, uri: Uri, body: axum::body::Bytes) -> Response {
    let params: Vec<(String, String)> =
        Query::<Vec<(String, String)>>::try_from_uri(&uri).map(|q| q.0).unwrap_or_default();
    let path = uri.path().to_string();
    let rest = unversioned(&path).to_string();
    let route = route_key(&method, &rest, &params, &body);
    let failure = {
        let mut s = lock(state);
        s.requests.push(RecordedRequest {
            route: route.to_string(),
            method: method.to_string(),
            path: path.clone(),
            query: uri.query().unwrap_or("").to_string(),
            params: params.clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        s.failures.get_mut(route).and_then(VecDeque::pop_front)
    };
    match failure.clone() {
        Some(FakeFailure::Error { status, code, subcode, message }) => {
            return graph_error_response(status, code, subcode, &message);
        }
        Some(FakeFailure::Raw { status, body }) => {
            return (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), body)
                .into_response();
        }
        Some(FakeFailure::Delay(d)) => tokio::time::sleep(d).await,
        Some(FakeFailure::AfterHandling { .. }) | None => {}
    }
    let q = Params(&params);
    let mut s = lock(state);
    let answer = match route {
        "exchange" => exchange(&mut s, &q),
        "long_lived" => long_lived(&mut s, &q),
        "permissions" => permissions(&s, &q),
        "me" => me(&s, &q),
        "accounts" => accounts(&s, &q, &rest),
        "subscribe" => subscribe(&mut s, &q, &rest),
        "unsubscribe" => unsubscribe(&mut s, &q, &rest),
        "subscribed_apps" => subscribed_apps(&s, &q, &rest),
        "debug_token" => debug_token(&s, &q),
        "conversations" => conversations(&s, &q, &rest),
        "send" => send(&mut s, &q, &rest, &body),
        "profile" => profile(&s, &q, &rest),
        "reply_comment" => comments::reply(&mut s, &q, &rest, &body),
        "private_reply" => comments::private_reply(&mut s, &q, &rest, &body),
        "hide_comment" => comments::hide(&mut s, &q, &rest),
        "delete_comment" => comments::delete(&mut s, &q, &rest),
        "posts" => comments::posts(&s, &q, &rest),
        "comments" => comments::comments(&s, &q, &rest),
        _ => Err(graph_error(400, 100, Some(33), "Unsupported request: unknown path components")),
    };
    if let Some(FakeFailure::AfterHandling { status }) = failure {
        return graph_error_response(
            status,
            2,
            None,
            "An unexpected error has occurred. Please retry your request later.",
        );
    }
    match answer {
        Ok(v) => Json(v).into_response(),
        Err(e) => graph_error_response(e.status, e.code, e.subcode, &e.message),
    }
}

pub(super) struct Params<'a>(pub(super) &'a [(String, String)]);

impl<'a> Params<'a> {
    pub(super) fn get(&self, name: &str) -> Option<&'a str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

fn check_app(s: &FakeState, q: &Params<'_>) -> Result<(), GraphErr> {
    if q.get("client_id") != Some(s.app_id.as_str()) {
        return Err(graph_error(400, 101, None, "Error validating application. Invalid application ID."));
    }
    if q.get("client_secret") != Some(s.app_secret.as_str()) {
        return Err(graph_error(400, 1, None, "Error validating client secret."));
    }
    Ok(())
}

fn user_token<'a>(s: &FakeState, q: &Params<'a>) -> Result<&'a str, GraphErr> {
    match q.get("access_token") {
        Some(t) if s.long_lived.contains(t) => Ok(t),
        _ => Err(invalid_token()),
    }
}

/// The Page of `/{page}/...`, with its token checked.
pub(super) fn page_for<'s>(s: &'s FakeState, q: &Params<'_>, rest: &str) -> Result<&'s FakePage, GraphErr> {
    let id = rest.trim_matches('/').split('/').next().unwrap_or("");
    let Some(page) = s.pages.iter().find(|p| p.id == id) else {
        return Err(graph_error(
            400,
            100,
            Some(33),
            &format!(
                "Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation"
            ),
        ));
    };
    if q.get("access_token") != Some(page.token.as_str()) {
        return Err(invalid_token());
    }
    Ok(page)
}

fn exchange(s: &mut FakeState, q: &Params<'_>) -> Answer {
    check_app(s, q)?;
    if let Some(expected) = &s.redirect_uri
        && q.get("redirect_uri") != Some(expected.as_str())
    {
        return Err(graph_error(
            400,
            100,
            Some(36008),
            "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
        ));
    }
    let code = q.get("code").unwrap_or("");
    if let Some(grant) = s.grants.get(code)
        && let Some(expected) = &grant.redirect_uri
        && q.get("redirect_uri") != Some(expected.as_str())
    {
        return Err(graph_error(
            400,
            100,
            Some(36008),
            "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
        ));
    }
    let Some(short) = s.codes.remove(code) else {
        return Err(graph_error(400, 100, Some(36007), "Invalid verification code format."));
    };
    if let Some(grant) = s.grants.remove(code) {
        s.grants.insert(short.clone(), grant);
    }
    s.short_lived.insert(short.clone());
    Ok(token_answer(short))
}

fn long_lived(s: &mut FakeState, q: &Params<'_>) -> Answer {
    check_app(s, q)?;
    match q.get("fb_exchange_token") {
        Some(short) if s.short_lived.contains(short) => {
            let long = format!("long-{short}");
            if let Some(grant) = s.grants.get(short).cloned() {
                s.grants.insert(long.clone(), grant);
            }
            s.long_lived.insert(long.clone());
            Ok(token_answer(long))
        }
        _ => Err(invalid_token()),
    }
}

fn permissions(s: &FakeState, q: &Params<'_>) -> Answer {
    let token = user_token(s, q)?;
    let perms = s.grants.get(token).map_or(&s.permissions, |g| &g.permissions);
    let data: Vec<Value> = perms.iter().map(|(p, st)| json!({ "permission": p, "status": st })).collect();
    Ok(json!({ "data": data }))
}

/// `after` cursors are offsets in disguise.
fn cursor(offset: usize) -> String {
    format!("QVFI{offset:08}")
}

fn offset_of(q: &Params<'_>) -> Result<usize, GraphErr> {
    match q.get("after") {
        None => Ok(0),
        Some(c) => c
            .strip_prefix("QVFI")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| graph_error(400, 100, None, "Invalid after cursor")),
    }
}

/// `paging` for items `[offset, end)` of `total`, with an absolute `next` (the request's
/// query, token included, with the new cursor) unless this is the last page.
pub(super) fn paging(
    s: &FakeState,
    q: &Params<'_>,
    rest: &str,
    offset: usize,
    end: usize,
    total: usize,
) -> Value {
    let mut paging = json!({ "cursors": { "before": cursor(offset), "after": cursor(end) } });
    if end < total {
        let mut next = reqwest::Url::parse(&format!("{}{rest}", s.base_url)).expect("the fake's own URL");
        {
            let mut pairs = next.query_pairs_mut();
            for (k, v) in q.0.iter().filter(|(k, _)| k != "after") {
                pairs.append_pair(k, v);
            }
            pairs.append_pair("after", &cursor(end));
        }
        paging["next"] = json!(next.to_string());
    }
    paging
}

pub(super) fn window(q: &Params<'_>, page_size: usize, total: usize) -> Result<(usize, usize), GraphErr> {
    let offset = offset_of(q)?.min(total);
    let limit = q.get("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(25).clamp(1, page_size.max(1));
    Ok((offset, (offset + limit).min(total)))
}

/// The Pages a user token sees: its login's choice, or every Page.
fn pages_of<'s>(s: &'s FakeState, grant: Option<&FakeGrant>) -> Vec<&'s FakePage> {
    s.pages.iter().filter(|p| grant.is_none_or(|g| g.pages.contains(&p.id))).collect()
}

fn accounts(s: &FakeState, q: &Params<'_>, rest: &str) -> Answer {
    let token = user_token(s, q)?;
    let pages = pages_of(s, s.grants.get(token));
    let (offset, end) = window(q, s.accounts_page_size, pages.len())?;
    let data: Vec<Value> = pages[offset..end]
        .iter()
        .map(|p| {
            json!({
                "id": p.id,
                "name": p.name,
                "access_token": p.token,
                "category": "Shopping & retail",
                "category_list": [{ "id": "200600219953504", "name": "Shopping & retail" }],
                "tasks": p.tasks,
            })
        })
        .collect();
    Ok(json!({ "data": data, "paging": paging(s, q, rest, offset, end, pages.len()) }))
}

fn subscribe(s: &mut FakeState, q: &Params<'_>, rest: &str) -> Answer {
    let page_id = page_for(s, q, rest)?.id.clone();
    let fields: Vec<String> = q
        .get("subscribed_fields")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect();
    if fields.is_empty() {
        return Err(graph_error(400, 100, None, "(#100) The parameter subscribed_fields is required."));
    }
    let app_id = s.app_id.clone();
    s.subscriptions.entry(page_id).or_default().insert(app_id, fields);
    Ok(json!({ "success": true }))
}

fn unsubscribe(s: &mut FakeState, q: &Params<'_>, rest: &str) -> Answer {
    let page_id = page_for(s, q, rest)?.id.clone();
    let app_id = s.app_id.clone();
    if let Some(apps) = s.subscriptions.get_mut(&page_id) {
        apps.remove(&app_id);
    }
    Ok(json!({ "success": true }))
}

fn subscribed_apps(s: &FakeState, q: &Params<'_>, rest: &str) -> Answer {
    let page = page_for(s, q, rest)?;
    let data: Vec<Value> = s
        .subscriptions
        .get(&page.id)
        .map(|apps| {
            apps.iter()
                .map(|(app_id, fields)| {
                    let name =
                        if *app_id == s.app_id { FAKE_APP_NAME.to_string() } else { format!("App {app_id}") };
                    json!({
                        "category": "Business",
                        "link": format!("https://www.facebook.com/games/?app_id={app_id}"),
                        "name": name,
                        "id": app_id,
                        "subscribed_fields": fields,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(json!({ "data": data }))
}

/// `GET /me?fields=id`: the person's app-scoped id.
fn me(s: &FakeState, q: &Params<'_>) -> Answer {
    let token = user_token(s, q)?;
    let id = s.user_ids.get(token).cloned().unwrap_or_else(|| DEFAULT_USER_ID.to_string());
    Ok(json!({ "id": id }))
}

fn debug_token(s: &FakeState, q: &Params<'_>) -> Answer {
    let app_token = format!("{}|{}", s.app_id, s.app_secret);
    if q.get("access_token") != Some(app_token.as_str()) {
        return Err(graph_error(400, 190, None, "Invalid OAuth access token signature."));
    }
    let input = q.get("input_token").unwrap_or("");
    let issued = issued_token_info(s, input);
    Ok(match s.token_info.get(input).or(issued.as_ref()) {
        Some(info) => json!({ "data": {
            "app_id": s.app_id,
            "type": if s.pages.iter().any(|p| p.token == input) { "PAGE" } else { "USER" },
            "application": FAKE_APP_NAME,
            "data_access_expires_at": 0,
            "expires_at": info.expires_at,
            "is_valid": info.is_valid,
            "scopes": info.scopes,
            "user_id": "10000000001",
        }}),
        None => json!({ "data": {
            "error": { "code": 190, "message": "Invalid OAuth access token." },
            "is_valid": false,
            "scopes": [],
        }}),
    })
}

/// In simulator mode, what `debug_token` says of a token the fake issued and nobody scripted:
/// valid, never expiring, with the login's granted scopes.
fn issued_token_info(s: &FakeState, token: &str) -> Option<super::FakeTokenInfo> {
    s.send_events.as_ref()?;
    let granted = |perms: &[(String, String)]| {
        perms.iter().filter(|(_, st)| st == "granted").map(|(p, _)| p.clone()).collect::<Vec<_>>()
    };
    let scopes = if s.long_lived.contains(token) {
        granted(s.grants.get(token).map_or(&s.permissions, |g| &g.permissions))
    } else if s.pages.iter().any(|p| p.token == token) {
        granted(&s.permissions)
    } else {
        return None;
    };
    Some(super::FakeTokenInfo { is_valid: true, expires_at: 0, scopes })
}

/// `GET /{psid}?fields=name` with the token of the Page that customer wrote to.
fn profile(s: &FakeState, q: &Params<'_>, rest: &str) -> Answer {
    let psid = rest.trim_matches('/');
    let token = q.get("access_token").unwrap_or("");
    let Some(page) = s.pages.iter().find(|p| p.token == token) else {
        return Err(invalid_token());
    };
    match s.profiles.get(psid) {
        Some(p) if p.page_id == page.id => Ok(json!({ "name": p.name, "id": psid })),
        _ => Err(graph_error(
            400,
            100,
            Some(33),
            &format!(
                "Unsupported get request. Object with ID '{psid}' does not exist, cannot be loaded due to missing permissions, or does not support this operation"
            ),
        )),
    }
}

fn conversations(s: &FakeState, q: &Params<'_>, rest: &str) -> Answer {
    let page = page_for(s, q, rest)?;
    if let Some(p) = q.get("platform")
        && p != "messenger"
    {
        return Ok(json!({ "data": [] }));
    }
    let mut all: Vec<&FakeConversation> =
        s.conversations.get(&page.id).map(|c| c.iter().collect()).unwrap_or_default();
    all.sort_by(|a, b| b.updated_ms.cmp(&a.updated_ms).then_with(|| a.id.cmp(&b.id)));
    let (offset, end) = window(q, s.conversations_page_size, all.len())?;
    let data: Vec<Value> = all[offset..end]
        .iter()
        .map(|c| {
            let mut msgs: Vec<&FakeMessage> = c.messages.iter().collect();
            msgs.sort_by_key(|m| std::cmp::Reverse(m.created_ms));
            msgs.truncate(20);
            let party = |id: &str| {
                if id == page.id {
                    json!({ "name": page.name, "id": page.id })
                } else {
                    let name =
                        s.profiles.get(id).map_or_else(|| format!("Customer {id}"), |p| p.name.clone());
                    json!({ "name": name, "email": format!("{id}@facebook.com"), "id": id })
                }
            };
            let messages: Vec<Value> = msgs
                .iter()
                .map(|m| {
                    let to = if m.from_id == page.id { c.customer_id.as_str() } else { page.id.as_str() };
                    json!({
                        "id": m.mid,
                        "created_time": meta_time(m.created_ms),
                        "from": party(&m.from_id),
                        "to": { "data": [party(to)] },
                        "message": m.text,
                    })
                })
                .collect();
            json!({
                "id": c.id,
                "updated_time": meta_time(c.updated_ms),
                "participants": { "data": [party(&c.customer_id), party(&page.id)] },
                "messages": { "data": messages },
            })
        })
        .collect();
    Ok(json!({ "data": data, "paging": paging(s, q, rest, offset, end, all.len()) }))
}

/// `POST /{page}/messages`: the Send API. Checks the Page token and the body's shape, keeps it,
/// answers `{recipient_id, message_id}`.
fn send(s: &mut FakeState, q: &Params<'_>, rest: &str, body: &[u8]) -> Answer {
    let page_id = page_for(s, q, rest)?.id.clone();
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Err(graph_error(400, 100, None, "(#100) The request body is not JSON"));
    };
    let Some(recipient) = v["recipient"]["id"].as_str().map(str::to_string) else {
        return Err(graph_error(400, 100, None, "(#100) The parameter recipient is required"));
    };
    if v["message"]["text"].as_str().is_none_or(str::is_empty) {
        return Err(graph_error(400, 100, None, "(#100) The parameter message is required"));
    }
    match (v["messaging_type"].as_str(), v["tag"].as_str()) {
        (Some("RESPONSE"), None) | (Some("MESSAGE_TAG"), Some("HUMAN_AGENT")) => {}
        _ => return Err(graph_error(400, 100, None, "(#100) messaging_type/tag invalid")),
    }
    s.sent.push((page_id.clone(), v.clone()));
    let mid = format!("m_sent_{}", s.sent.len());
    if let Some(events) = s.send_events.clone() {
        let at_ms = domain::timefmt::now_ms();
        let text = v["message"]["text"].as_str().unwrap_or_default().to_string();
        add_to_thread(
            s,
            &page_id,
            &recipient,
            FakeMessage { mid: mid.clone(), created_ms: at_ms, from_id: page_id.clone(), text },
        );
        // The receiver is gone only when the simulator is: nothing left to echo to.
        let _ = events.send(SentEvent {
            page_id,
            recipient_id: recipient.clone(),
            mid: mid.clone(),
            body: v,
            at_ms,
        });
    }
    Ok(json!({ "recipient_id": recipient, "message_id": mid }))
}

/// Adds a message to the Page's conversation with `customer` (started if there is none).
pub(crate) fn add_to_thread(s: &mut FakeState, page_id: &str, customer: &str, m: FakeMessage) {
    let list = s.conversations.entry(page_id.to_string()).or_default();
    let conv = match list.iter().position(|c| c.customer_id == customer) {
        Some(i) => &mut list[i],
        None => {
            list.push(FakeConversation {
                id: format!("t_{}", uuid::Uuid::new_v4().simple()),
                updated_ms: m.created_ms,
                customer_id: customer.to_string(),
                messages: Vec::new(),
            });
            let last = list.len() - 1;
            &mut list[last]
        }
    };
    conv.updated_ms = conv.updated_ms.max(m.created_ms);
    conv.messages.push(m);
}

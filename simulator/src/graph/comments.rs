//! The fake's comment routes (`docs/comments.md`): a Page's posts and their comments (paged
//! like the conversations), the Page's public reply under a comment, the one private reply to
//! a comment through the Send API (`recipient.comment_id`), hide/unhide and delete, each
//! checked against the token of the Page owning the post and answered in Graph's shapes and
//! errors.

use serde_json::{Value, json};

use super::routes::{Answer, Params, add_to_thread, page_for, paging, window};
use super::shapes::{GraphErr, graph_error, invalid_token, meta_time};
use super::{FakeMessage, FakeState, SentEvent};

/// Meta's window for a private reply: 7 days from the comment.
const PRIVATE_REPLY_WINDOW_MS: i64 = domain::comments::PRIVATE_REPLY_WINDOW_MS;

/// A post of a Page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakePost {
    /// `{page}_{post}`.
    pub id: String,
    pub created_ms: i64,
}

/// A comment on a post: a customer's, or the Page's own reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeComment {
    /// `{post}_{comment}`.
    pub id: String,
    pub post_id: String,
    /// The comment it answers; None for a top-level comment.
    pub parent_id: Option<String>,
    pub from_id: String,
    pub from_name: String,
    pub text: String,
    pub created_ms: i64,
    pub hidden: bool,
    pub deleted: bool,
    /// Its one private reply was sent.
    pub private_replied: bool,
}

impl FakeComment {
    /// A visible top-level comment; see [`FakeComment::under`] for a reply.
    pub fn new(post_id: &str, id: &str, from_id: &str, from_name: &str, text: &str, created_ms: i64) -> Self {
        FakeComment {
            id: id.to_string(),
            post_id: post_id.to_string(),
            parent_id: None,
            from_id: from_id.to_string(),
            from_name: from_name.to_string(),
            text: text.to_string(),
            created_ms,
            hidden: false,
            deleted: false,
            private_replied: false,
        }
    }

    /// The same comment as an answer to `parent_id`.
    pub fn under(self, parent_id: &str) -> Self {
        FakeComment { parent_id: Some(parent_id.to_string()), ..self }
    }
}

/// What the shop did to a comment through the fake, for the simulator to announce as a `feed`
/// webhook (Meta tells the app of its own changes too).
#[derive(Debug, Clone)]
pub enum CommentEvent {
    /// The Page replied publicly: its new comment.
    Replied {
        page_id: String,
        comment: FakeComment,
    },
    /// Hidden (`true`) or unhidden.
    Hidden {
        page_id: String,
        comment: FakeComment,
        hidden: bool,
    },
    Removed {
        page_id: String,
        comment: FakeComment,
    },
}

/// Whether a Send API body is a private reply (`recipient.comment_id`).
pub(super) fn is_private_reply(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body).is_ok_and(|v| v["recipient"]["comment_id"].is_string())
}

fn not_found(id: &str) -> GraphErr {
    graph_error(
        400,
        100,
        Some(33),
        &format!(
            "Unsupported request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation"
        ),
    )
}

/// The Page owning a post: the one listing it, else the `{page}_` prefix of its id.
fn page_of_post(s: &FakeState, post_id: &str) -> Option<String> {
    s.posts
        .iter()
        .find(|(_, posts)| posts.iter().any(|p| p.id == post_id))
        .map(|(page, _)| page.clone())
        .or_else(|| post_id.split_once('_').map(|(page, _)| page.to_string()))
        .filter(|page| s.pages.iter().any(|p| p.id == *page))
}

/// Checks the request's token is the Page's that owns `post_id`; returns that Page's id.
fn check_page_token(s: &FakeState, q: &Params<'_>, post_id: &str) -> Result<String, GraphErr> {
    let page_id = page_of_post(s, post_id).ok_or_else(|| not_found(post_id))?;
    let page = s.pages.iter().find(|p| p.id == page_id).ok_or_else(|| not_found(post_id))?;
    if q.get("access_token") != Some(page.token.as_str()) {
        return Err(invalid_token());
    }
    Ok(page_id)
}

/// The live (not deleted) comment `id` as a mutable entry, with its Page's token checked.
fn live_comment<'s>(
    s: &'s mut FakeState,
    q: &Params<'_>,
    id: &str,
) -> Result<(String, &'s mut FakeComment), GraphErr> {
    let post_id = s
        .comments
        .values()
        .flatten()
        .find(|c| c.id == id && !c.deleted)
        .map(|c| c.post_id.clone())
        .ok_or_else(|| not_found(id))?;
    let page_id = check_page_token(s, q, &post_id)?;
    let comment = s
        .comments
        .get_mut(&post_id)
        .and_then(|list| list.iter_mut().find(|c| c.id == id && !c.deleted))
        .ok_or_else(|| not_found(id))?;
    Ok((page_id, comment))
}

fn first_segment(rest: &str) -> &str {
    rest.trim_matches('/').split('/').next().unwrap_or("")
}

fn body_json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

/// A fresh comment id on `post_id`: `{post}_{n}`.
fn new_comment_id(post_id: &str) -> String {
    let post = post_id.rsplit('_').next().unwrap_or(post_id);
    format!("{post}_{}", uuid::Uuid::new_v4().as_u128() % 10_000_000_000_000_000)
}

fn announce(s: &FakeState, ev: CommentEvent) {
    if let Some(tx) = &s.comment_events {
        // The receiver is gone only when the simulator is: nobody left to tell.
        let _ = tx.send(ev);
    }
}

/// `POST /{comment}/comments {message}` (JSON body or query): the Page's public reply.
pub(super) fn reply(s: &mut FakeState, q: &Params<'_>, rest: &str, body: &[u8]) -> Answer {
    let parent_id = first_segment(rest).to_string();
    let v = body_json(body);
    let text = v["message"].as_str().or_else(|| q.get("message")).unwrap_or_default().to_string();
    let (page_id, parent) = live_comment(s, q, &parent_id)?;
    let post_id = parent.post_id.clone();
    if text.trim().is_empty() {
        return Err(graph_error(400, 100, None, "(#100) The parameter message is required"));
    }
    let page_name = s.pages.iter().find(|p| p.id == page_id).map(|p| p.name.clone()).unwrap_or_default();
    let id = new_comment_id(&post_id);
    let comment = FakeComment::new(&post_id, &id, &page_id, &page_name, &text, domain::timefmt::now_ms())
        .under(&parent_id);
    s.comments.entry(post_id).or_default().push(comment.clone());
    s.public_replies.push(comment.clone());
    announce(s, CommentEvent::Replied { page_id, comment });
    Ok(json!({ "id": id }))
}

/// `POST /{page}/messages` with `recipient.comment_id`: the one private reply, within 7 days
/// of the comment, to its author's PSID (their Messenger thread with the Page).
pub(super) fn private_reply(s: &mut FakeState, q: &Params<'_>, rest: &str, body: &[u8]) -> Answer {
    let page_id = page_for(s, q, rest)?.id.clone();
    let v = body_json(body);
    let comment_id = v["recipient"]["comment_id"].as_str().unwrap_or_default().to_string();
    let text = v["message"]["text"].as_str().unwrap_or_default().to_string();
    if text.is_empty() {
        return Err(graph_error(400, 100, None, "(#100) The parameter message is required"));
    }
    let (owner, comment) = live_comment(s, q, &comment_id)?;
    if owner != page_id {
        return Err(not_found(&comment_id));
    }
    if comment.private_replied {
        return Err(graph_error(400, 10900, None, "Activity already replied to"));
    }
    let now = domain::timefmt::now_ms();
    if now - comment.created_ms > PRIVATE_REPLY_WINDOW_MS {
        return Err(graph_error(
            400,
            10,
            Some(2018278),
            "(#10) This message is sent outside of allowed window.",
        ));
    }
    if comment.from_id == page_id {
        return Err(graph_error(400, 100, None, "(#100) Cannot reply privately to the Page's own comment"));
    }
    comment.private_replied = true;
    let author = comment.from_id.clone();
    let psid = s.comment_authors.get(&author).cloned().unwrap_or(author);
    s.private_replies.push((page_id.clone(), v.clone()));
    let mid = format!("m_private_{}", s.private_replies.len());
    if let Some(events) = s.send_events.clone() {
        add_to_thread(
            s,
            &page_id,
            &psid,
            FakeMessage { mid: mid.clone(), created_ms: now, from_id: page_id.clone(), text },
        );
        // Echoed like any Send API message, on the customer's PSID, metadata included.
        let _ = events.send(SentEvent {
            page_id,
            recipient_id: psid.clone(),
            mid: mid.clone(),
            body: v,
            at_ms: now,
        });
    }
    Ok(json!({ "recipient_id": psid, "message_id": mid }))
}

/// `POST /{comment}?is_hidden=true|false`.
pub(super) fn hide(s: &mut FakeState, q: &Params<'_>, rest: &str) -> Answer {
    let id = first_segment(rest).to_string();
    let hidden = match q.get("is_hidden") {
        Some("true") => true,
        Some("false") => false,
        _ => return Err(graph_error(400, 100, None, "(#100) The parameter is_hidden is required")),
    };
    let (page_id, comment) = live_comment(s, q, &id)?;
    if comment.from_id == page_id {
        return Err(graph_error(400, 100, None, "(#100) A Page cannot hide its own comment"));
    }
    comment.hidden = hidden;
    let comment = comment.clone();
    announce(s, CommentEvent::Hidden { page_id, comment, hidden });
    Ok(json!({ "success": true }))
}

/// `DELETE /{comment}`; an unknown or deleted comment is Graph's 100/33.
pub(super) fn delete(s: &mut FakeState, q: &Params<'_>, rest: &str) -> Answer {
    let id = first_segment(rest).to_string();
    let (page_id, comment) = live_comment(s, q, &id)?;
    comment.deleted = true;
    let comment = comment.clone();
    announce(s, CommentEvent::Removed { page_id, comment });
    Ok(json!({ "success": true }))
}

/// `GET /{page}/posts?fields=id,created_time`: newest first, paged.
pub(super) fn posts(s: &FakeState, q: &Params<'_>, rest: &str) -> Answer {
    let page = page_for(s, q, rest)?;
    let mut all: Vec<_> = s.posts.get(&page.id).map(|p| p.iter().collect()).unwrap_or_default();
    all.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then_with(|| a.id.cmp(&b.id)));
    let (offset, end) = window(q, s.posts_page_size, all.len())?;
    let data: Vec<Value> = all[offset..end]
        .iter()
        .map(|p| json!({ "id": p.id, "created_time": meta_time(p.created_ms) }))
        .collect();
    Ok(json!({ "data": data, "paging": paging(s, q, rest, offset, end, all.len()) }))
}

/// `GET /{post}/comments?filter=stream&order=chronological`: every live comment, replies
/// included, oldest first, paged; `parent` only on replies, as Graph does.
pub(super) fn comments(s: &FakeState, q: &Params<'_>, rest: &str) -> Answer {
    let post_id = first_segment(rest);
    check_page_token(s, q, post_id)?;
    let mut all: Vec<&FakeComment> =
        s.comments.get(post_id).map(|l| l.iter().filter(|c| !c.deleted).collect()).unwrap_or_default();
    all.sort_by_key(|c| c.created_ms);
    let (offset, end) = window(q, s.comments_page_size, all.len())?;
    let data: Vec<Value> = all[offset..end]
        .iter()
        .map(|c| {
            let mut v = json!({
                "id": c.id,
                "from": { "id": c.from_id, "name": c.from_name },
                "message": c.text,
                "created_time": meta_time(c.created_ms),
                "is_hidden": c.hidden,
            });
            if let Some(p) = &c.parent_id {
                v["parent"] = json!({ "id": p });
            }
            v
        })
        .collect();
    Ok(json!({ "data": data, "paging": paging(s, q, rest, offset, end, all.len()) }))
}

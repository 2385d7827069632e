//! The comment calls of the Graph client (`docs/comments.md`): a public reply under a comment,
//! the private reply through the Send API, hide/unhide, delete, and the posts and comments that
//! history sync reads.
//!
//! Every comment or post id is checked with [`domain::comments::is_comment_id`] (post ids have
//! the same `{page}_{post}` shape) and every Page id with the Page-segment check before any
//! request: an id becomes a path segment, and a refusal never quotes it (a caller that mixed up
//! its arguments could have passed a token there).

use domain::comments::is_comment_id;
use domain::graph::{CommentsPage, GraphComment, GraphError, GraphPost, PostsPage, PrivateReplySent};
use domain::timefmt::parse_meta_time;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::*;

const POST_FIELDS: &str = "id,created_time";
const COMMENT_FIELDS: &str = "id,from,message,created_time,parent{id},is_hidden";
/// Graph's code and subcode for "object does not exist": a delete of it has nothing left to do.
const GONE: (Option<i64>, Option<i64>) = (Some(100), Some(33));

#[derive(Deserialize)]
struct IdAnswer {
    id: String,
}

#[derive(Deserialize)]
struct PrivateReplyAnswer {
    recipient_id: String,
    message_id: String,
}

#[derive(Deserialize)]
struct ListAnswer<T> {
    data: Vec<T>,
    #[serde(default)]
    paging: Option<Paging>,
}

#[derive(Deserialize)]
struct Paging {
    #[serde(default)]
    cursors: Option<Cursors>,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
struct Cursors {
    #[serde(default)]
    after: Option<String>,
}

impl<T> ListAnswer<T> {
    /// The cursor of the next page, only when Graph says there is one (`paging.next`): the
    /// last page still carries an `after` cursor.
    fn next_after(&self) -> Option<String> {
        self.paging
            .as_ref()
            .filter(|p| p.next.is_some())
            .and_then(|p| p.cursors.as_ref())
            .and_then(|c| c.after.clone())
            .filter(|a| !a.is_empty())
    }
}

#[derive(Deserialize)]
struct PostJson {
    id: String,
    #[serde(default)]
    created_time: serde_json::Value,
}

#[derive(Deserialize)]
struct FromJson {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct ParentJson {
    id: String,
}

#[derive(Deserialize)]
struct CommentJson {
    id: String,
    #[serde(default)]
    from: Option<FromJson>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    created_time: serde_json::Value,
    #[serde(default)]
    parent: Option<ParentJson>,
    #[serde(default)]
    is_hidden: bool,
}

/// A comment or post id fit for a Graph path, refused otherwise without quoting it.
fn object_segment(op: &str, what: &str, id: &str) -> Result<(), GraphError> {
    if is_comment_id(id) { Ok(()) } else { Err(internal(format!("{op}: the {what} id is not a Graph id"))) }
}

fn to_comment(c: CommentJson) -> Option<GraphComment> {
    let (Some(created_ms), Some(from)) = (parse_meta_time(&c.created_time), c.from) else {
        // Without an author or a time there is no conversation to put it in.
        tracing::warn!(comment_id = %c.id, "comment without from or created_time; skipped");
        return None;
    };
    Some(GraphComment {
        id: c.id,
        parent_id: c.parent.map(|p| p.id),
        from_id: from.id,
        from_name: from.name.filter(|n| !n.trim().is_empty()),
        // A photo-only comment comes with an empty text.
        text: c.message.filter(|t| !t.is_empty()),
        created_ms,
        is_hidden: c.is_hidden,
    })
}

impl HttpGraph {
    #[tracing::instrument(name = "graph.reply_comment", skip_all)]
    pub(super) async fn reply_comment_call(
        &self,
        page_token: &SecretString,
        comment_id: &str,
        text: &str,
    ) -> Result<String, GraphError> {
        object_segment("reply_comment", "comment", comment_id)?;
        let token = page_token.expose_secret();
        let url = self.url(&[comment_id, "comments"], &[("access_token", token)])?;
        let body = serde_json::json!({ "message": text });
        let call = Call {
            op: "reply_comment",
            method: Method::POST,
            url,
            secrets: vec![token],
            body: Some(body),
            page: None,
        };
        // Never repeated after a timeout or a 5xx: the first may have been posted.
        let r: IdAnswer = self.call_unrepeatable(call).await?;
        Ok(r.id)
    }

    #[tracing::instrument(name = "graph.private_reply", skip_all, fields(page_id = %page_id))]
    pub(super) async fn private_reply_call(
        &self,
        page_id: &str,
        page_token: &SecretString,
        comment_id: &str,
        text: &str,
        metadata: &str,
    ) -> Result<PrivateReplySent, GraphError> {
        let page = Self::page_segment(page_id)?;
        object_segment("private_reply", "comment", comment_id)?;
        let token = page_token.expose_secret();
        let url = self.url(&[&page, "messages"], &[("access_token", token)])?;
        let mut message = serde_json::json!({ "text": text });
        if !metadata.is_empty() {
            // Handed back on the echo: how the echo finds the reply it is the echo of.
            message["metadata"] = metadata.into();
        }
        let body = serde_json::json!({
            "recipient": { "comment_id": comment_id },
            "message": message,
            "messaging_type": "RESPONSE",
        });
        let call = Call {
            op: "private_reply",
            method: Method::POST,
            url,
            secrets: vec![token],
            body: Some(body),
            page: Some(page_id.to_string()),
        };
        // Meta allows one per comment: a second attempt after an unknown outcome would be
        // refused at best, so it is never made.
        let r: PrivateReplyAnswer = self.call_unrepeatable(call).await?;
        Ok(PrivateReplySent { recipient_id: r.recipient_id, message_id: r.message_id })
    }

    #[tracing::instrument(name = "graph.set_comment_hidden", skip_all, fields(hidden))]
    pub(super) async fn set_comment_hidden_call(
        &self,
        page_token: &SecretString,
        comment_id: &str,
        hidden: bool,
    ) -> Result<(), GraphError> {
        object_segment("set_comment_hidden", "comment", comment_id)?;
        let token = page_token.expose_secret();
        let flag = if hidden { "true" } else { "false" };
        let url = self.url(&[comment_id], &[("is_hidden", flag), ("access_token", token)])?;
        let call = Call {
            op: "set_comment_hidden",
            method: Method::POST,
            url,
            secrets: vec![token],
            body: None,
            page: None,
        };
        // Setting a flag to a value twice is the same as once: retried like a read.
        self.call_success(call).await
    }

    #[tracing::instrument(name = "graph.delete_comment", skip_all)]
    pub(super) async fn delete_comment_call(
        &self,
        page_token: &SecretString,
        comment_id: &str,
    ) -> Result<(), GraphError> {
        object_segment("delete_comment", "comment", comment_id)?;
        let token = page_token.expose_secret();
        let url = self.url(&[comment_id], &[("access_token", token)])?;
        let call = Call {
            op: "delete_comment",
            method: Method::DELETE,
            url,
            secrets: vec![token],
            body: None,
            page: None,
        };
        // A retried delete whose first attempt went through finds the comment gone: still Ok.
        match self.call_success(call).await {
            Err(e) if (e.code, e.subcode) == GONE => {
                tracing::info!("comment already gone at Meta; counted as deleted");
                Ok(())
            }
            other => other,
        }
    }

    #[tracing::instrument(name = "graph.posts", skip_all, fields(page_id = %page_id, posts = tracing::field::Empty))]
    pub(super) async fn posts_call(
        &self,
        page_id: &str,
        page_token: &SecretString,
        after: Option<&str>,
    ) -> Result<PostsPage, GraphError> {
        let page = Self::page_segment(page_id)?;
        let token = page_token.expose_secret();
        let mut query = vec![("fields", POST_FIELDS), ("limit", "25"), ("access_token", token)];
        if let Some(a) = after {
            query.push(("after", a));
        }
        let url = self.url(&[&page, "posts"], &query)?;
        let list: ListAnswer<PostJson> =
            self.call(self.get("posts", url, vec![token]).on_page(page_id)).await?;
        let next_after = list.next_after();
        let posts: Vec<GraphPost> = list
            .data
            .into_iter()
            .filter_map(|p| match parse_meta_time(&p.created_time) {
                Some(created_ms) => Some(GraphPost { id: p.id, created_ms }),
                None => {
                    tracing::warn!(post_id = %p.id, "post without a readable created_time; skipped");
                    None
                }
            })
            .collect();
        tracing::Span::current().record("posts", posts.len());
        Ok(PostsPage { posts, next_after })
    }

    #[tracing::instrument(name = "graph.comments", skip_all, fields(comments = tracing::field::Empty))]
    pub(super) async fn comments_call(
        &self,
        post_id: &str,
        page_token: &SecretString,
        after: Option<&str>,
    ) -> Result<CommentsPage, GraphError> {
        object_segment("comments", "post", post_id)?;
        let token = page_token.expose_secret();
        let mut query = vec![
            ("filter", "stream"),
            ("order", "chronological"),
            ("fields", COMMENT_FIELDS),
            ("limit", "100"),
            ("access_token", token),
        ];
        if let Some(a) = after {
            query.push(("after", a));
        }
        let url = self.url(&[post_id, "comments"], &query)?;
        let list: ListAnswer<CommentJson> = self.call(self.get("comments", url, vec![token])).await?;
        let next_after = list.next_after();
        let comments: Vec<GraphComment> = list.data.into_iter().filter_map(to_comment).collect();
        tracing::Span::current().record("comments", comments.len());
        Ok(CommentsPage { comments, next_after })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_do_not_quote_the_id() {
        let e = object_segment("reply_comment", "comment", "EAAtoken123/x").expect_err("not an id");
        assert!(!e.message.contains("EAAtoken123"), "{}", e.message);
        assert!(object_segment("reply_comment", "comment", "12_34").is_ok());
    }

    #[test]
    fn comments_without_an_author_are_skipped() {
        let c: CommentJson = serde_json::from_value(serde_json::json!({
            "id": "1_2", "message": "hi", "created_time": "2026-11-20T10:00:00+0000"
        }))
        .expect("json");
        assert!(to_comment(c).is_none());
        let c: CommentJson = serde_json::from_value(serde_json::json!({
            "id": "1_3", "message": "", "created_time": "2026-11-20T10:00:00+0000",
            "from": {"id": "9", "name": " "}, "parent": {"id": "1_2"}, "is_hidden": true
        }))
        .expect("json");
        let c = to_comment(c).expect("kept");
        assert_eq!(
            (c.text, c.from_name, c.parent_id.as_deref(), c.is_hidden),
            (None, None, Some("1_2"), true)
        );
    }
}

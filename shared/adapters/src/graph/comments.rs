//! The comment calls of the Graph client (`docs/comments.md`): a public reply under a comment,
//! the private reply through the Send API, hide/unhide, delete, and the posts and comments that
//! history sync reads.

use domain::graph::{CommentsPage, GraphError, PostsPage, PrivateReplySent};
use secrecy::SecretString;

use super::*;

impl HttpGraph {
    pub(super) async fn reply_comment_call(
        &self,
        _page_token: &SecretString,
        _comment_id: &str,
        _text: &str,
    ) -> Result<String, GraphError> {
        Err(internal("TODO reply_comment"))
    }

    pub(super) async fn private_reply_call(
        &self,
        _page_id: &str,
        _page_token: &SecretString,
        _comment_id: &str,
        _text: &str,
        _metadata: &str,
    ) -> Result<PrivateReplySent, GraphError> {
        Err(internal("TODO private_reply"))
    }

    pub(super) async fn set_comment_hidden_call(
        &self,
        _page_token: &SecretString,
        _comment_id: &str,
        _hidden: bool,
    ) -> Result<(), GraphError> {
        Err(internal("TODO set_comment_hidden"))
    }

    pub(super) async fn delete_comment_call(
        &self,
        _page_token: &SecretString,
        _comment_id: &str,
    ) -> Result<(), GraphError> {
        Err(internal("TODO delete_comment"))
    }

    pub(super) async fn posts_call(
        &self,
        _page_id: &str,
        _page_token: &SecretString,
        _after: Option<&str>,
    ) -> Result<PostsPage, GraphError> {
        Err(internal("TODO posts"))
    }

    pub(super) async fn comments_call(
        &self,
        _post_id: &str,
        _page_token: &SecretString,
        _after: Option<&str>,
    ) -> Result<CommentsPage, GraphError> {
        Err(internal("TODO comments"))
    }
}

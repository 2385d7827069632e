//! `DELETE /api/pages/{page_id}`: a shop deletes what it holds of one Page: the Page item with
//! its token at once, then the Page's conversations and messages of the shop through a
//! resumable queued job (the assignment worker's `erasure` step). Refused with 409
//! `page_connected` while the Page is connected or in lost connection for the shop
//! (docs/data-retention.md).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::event::EraseJob;
use domain::ports::{PageErasure, StoreError};
use serde::Serialize;
use tracing::info;

use crate::extract::{Manager, area};
use crate::{AdminApi, ApiError, ErrorCode};

/// The answer: the Page item is gone; the conversations go with the queued job.
#[derive(Serialize)]
pub struct PageDeletionView {
    pub page_id: String,
    /// `deleted`: the Page item and its token were deleted now; `absent`: there was none (an
    /// earlier deletion, or never imported), the conversations' deletion runs again anyway.
    pub page: &'static str,
    /// `queued`: the conversations and messages are being deleted.
    pub conversations: &'static str,
}

/// Meta's Page ids are digits; anything else is no Page of the shop.
fn is_page_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_digit())
}

pub async fn delete_page_data(
    State(api): State<Arc<AdminApi>>,
    Path(page_id): Path<String>,
    me: Manager<area::Pages>,
) -> Result<(StatusCode, Json<PageDeletionView>), ApiError> {
    if !is_page_id(&page_id) {
        return Err(ApiError::NotFound("page not found"));
    }
    let page = match api.stores.erasure.delete_page(&me.tenant_id, &page_id).await? {
        PageErasure::Held => {
            let refusal = "the Page is connected to this shop; disconnect it before deleting its data".into();
            return Err(ApiError::Conflict(ErrorCode::PageConnected, refusal));
        }
        PageErasure::Deleted => "deleted",
        PageErasure::Absent => "absent",
    };
    let job = EraseJob {
        tenant_id: me.tenant_id.to_string(),
        page_id: page_id.clone(),
        request_id: uuid::Uuid::new_v4().simple().to_string(),
        step: 0,
    };
    let message = job.to_queue_message().map_err(|e| backend("EncodeEraseJob", e))?;
    // A failure here is answered 503: the request can be repeated (the item is gone, the job
    // is queued again), so nothing stays half-deleted for good.
    api.queue.send_batch(&[message]).await.map_err(|e| backend("SendMessageBatch", e))?;
    info!(page_id = %page_id, tenant_id = %me.tenant_id, page, "Page data deletion queued");
    Ok((StatusCode::ACCEPTED, Json(PageDeletionView { page_id, page, conversations: "queued" })))
}

fn backend(op: &'static str, e: impl std::error::Error + Send + Sync + 'static) -> ApiError {
    ApiError::Store(StoreError::Backend { op, source: Box::new(e) })
}

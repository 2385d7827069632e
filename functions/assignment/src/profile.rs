//! The customer's name for a conversation a webhook created: webhooks carry only the PSID, so
//! the worker asks Graph once (`GET /{psid}?fields=name` with the holder's Page token). Best
//! effort: any failure leaves the name unknown, is logged, and never fails or delays the
//! event beyond one short Graph attempt; history sync may still fill the name in later.

use domain::model::{Conversation, PageRoute};
use tracing::{info, warn};

use crate::Worker;

impl Worker {
    /// Looks up and records the customer's name of a conversation just created. Only a worker
    /// with Graph access does, and only for the shop that holds the Page with a token.
    pub(crate) async fn look_up_name(&self, route: &PageRoute, conv: &Conversation) {
        let Some(sync) = &self.sync else { return };
        let Some((token, _)) = self.held_token(route).await else { return };
        let fb = &sync.facebook;
        let name = match fb.graph.profile_name(&conv.customer_id, &token).await {
            Ok(Some(name)) => name,
            Ok(None) => {
                info!(conversation_id = %conv.id, "Graph gave no name for the customer");
                return;
            }
            Err(e) => {
                warn!(conversation_id = %conv.id, code = ?e.code, status = e.status, "profile lookup failed; the customer's name stays unknown");
                return;
            }
        };
        if let Err(e) = self.stores.conversations.set_customer_name(&route.tenant_id, &conv.id, &name).await {
            warn!(conversation_id = %conv.id, error = %adapters::telemetry::error_chain(&e), "the customer's name was not stored");
        }
    }
}

//! The SQS FIFO queue: producer (SendMessageBatch) and consumer (the local stack's poller).

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry};
use domain::event::OutboundQueueMessage;
use domain::ports::*;
use tracing::{instrument, warn};

use crate::retry::RetryPolicy;

fn backend<E>(op: &'static str) -> impl FnOnce(E) -> QueueError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |e| QueueError::Backend { op, source: Box::new(e) }
}

#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
    dlq_url: Option<String>,
}

impl SqsQueue {
    pub fn new(client: Client, url: impl Into<String>, dlq_url: Option<String>) -> SqsQueue {
        SqsQueue { client, url: url.into(), dlq_url }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Creates the FIFO queue and its FIFO dead-letter queue unless they exist (local stack
    /// and tests; on AWS the SAM template owns them).
    pub async fn create_if_missing(
        client: Client,
        name: &str,
        visibility_seconds: u32,
        max_receives: u32,
    ) -> Result<SqsQueue, QueueError> {
        let base = name.trim_end_matches(".fifo");
        let dlq = client
            .create_queue()
            .queue_name(format!("{base}-dlq.fifo"))
            .attributes(QueueAttributeName::FifoQueue, "true")
            .send()
            .await
            .map_err(backend("CreateQueue"))?;
        let dlq_url = dlq.queue_url.unwrap_or_default();
        let dlq_arn = client
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(backend("GetQueueAttributes"))?
            .attributes
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .unwrap_or_default();
        let redrive = serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives});
        let q = client
            .create_queue()
            .queue_name(format!("{base}.fifo"))
            .attributes(QueueAttributeName::FifoQueue, "true")
            .attributes(QueueAttributeName::VisibilityTimeout, visibility_seconds.to_string())
            .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
            .send()
            .await
            .map_err(backend("CreateQueue"))?;
        Ok(SqsQueue::new(client, q.queue_url.unwrap_or_default(), Some(dlq_url)))
    }
}

#[async_trait]
impl EventQueue for SqsQueue {
    #[instrument(skip(self, messages), fields(entries = messages.len()), err)]
    async fn send_batch(&self, messages: &[OutboundQueueMessage]) -> Result<(), QueueError> {
        // Entries the queue refused for reasons of its own (throttling, internal errors) are sent
        // again within this budget; past it the webhook gives up and lets Meta retry.
        let policy = RetryPolicy::QUEUE_ENTRIES;
        let mut pending: Vec<usize> = (0..messages.len()).collect();
        let mut attempt = 0;
        loop {
            let entries = pending
                .iter()
                .map(|&i| {
                    let m = &messages[i];
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(&m.body)
                        .message_group_id(&m.group_id)
                        .message_deduplication_id(&m.dedup_id)
                        .build()
                        .map_err(backend("SendMessageBatch"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(backend("SendMessageBatch"))?;
            if out.failed.is_empty() {
                return Ok(());
            }
            let first_reason = out
                .failed
                .first()
                .map(|f| format!("{}: {}", f.code, f.message.clone().unwrap_or_default()))
                .unwrap_or_default();
            // Entries refused for their own content will be refused again: stop at once.
            if out.failed.iter().any(|f| f.sender_fault) || !policy.allows(attempt + 1) {
                return Err(QueueError::Refused {
                    failed: out.failed.len(),
                    total: messages.len(),
                    first_reason,
                });
            }
            warn!(failed = out.failed.len(), reason = %first_reason, "queue refused entries; retrying them");
            pending = out.failed.iter().filter_map(|f| f.id.parse().ok()).collect();
            policy.pause(attempt).await;
            attempt += 1;
        }
    }
}

#[async_trait]
impl QueueConsumer for SqsQueue {
    async fn receive(&self, max: usize, wait_seconds: u32) -> Result<Vec<ReceivedMessage>, QueueError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, 10) as i32)
            .wait_time_seconds(wait_seconds.min(20) as i32)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(backend("ReceiveMessage"))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let attrs = m.attributes.unwrap_or_default();
                ReceivedMessage {
                    message_id: m.message_id.unwrap_or_default(),
                    receipt_handle: m.receipt_handle.unwrap_or_default(),
                    body: m.body.unwrap_or_default(),
                    group_id: attrs.get(&MessageSystemAttributeName::MessageGroupId).cloned(),
                    receive_count: attrs
                        .get(&MessageSystemAttributeName::ApproximateReceiveCount)
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(1),
                }
            })
            .collect())
    }

    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(backend("DeleteMessage"))?;
        Ok(())
    }

    async fn release(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(backend("ChangeMessageVisibility"))?;
        Ok(())
    }

    async fn dead_letter_depth(&self) -> Result<usize, QueueError> {
        let Some(dlq) = &self.dlq_url else { return Ok(0) };
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(dlq)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map_err(backend("GetQueueAttributes"))?;
        Ok(out
            .attributes
            .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages).cloned())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }
}

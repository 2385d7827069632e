//! What each Lambda function really asks of DynamoDB and SQS, recorded by an SDK interceptor
//! on that function's own clients (`tests/tests/iam_policy.rs` checks the record against the
//! function's static list, and that list against `template.yaml`). Each call is recorded as
//! the IAM action that authorizes it and the resource it names: a `TransactWriteItems` as one
//! action per item (IAM has no action for the transaction itself), a `Query` with its index.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use adapters::dynamo::DynamoStore;
use adapters::sqs::SqsQueue;
use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::operation as ddb;
use aws_sdk_sqs::operation as sqs;

/// One authorized call: (function, IAM action, resource: `table`, `index/NAME` or `queue`).
pub type Call = (String, String, String);

/// The calls of every recording client, shared.
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<BTreeSet<Call>>>);

impl Recorder {
    pub fn calls(&self) -> BTreeSet<Call> {
        self.0.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn add(&self, function: &str, action: &str, resource: &str) {
        self.0.lock().map(|mut c| c.insert((function.into(), action.into(), resource.into()))).ok();
    }

    /// A DynamoDB store on moto whose calls are recorded as `function`'s.
    pub async fn store(&self, function: &str, table: &str) -> DynamoStore {
        let cfg = crate::moto_config().await;
        let conf = aws_sdk_dynamodb::config::Builder::from(&cfg)
            .interceptor(Recording { function: function.into(), recorder: self.clone() })
            .build();
        DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(conf), table)
    }

    /// The queue at `url` on moto, its calls recorded as `function`'s.
    pub async fn queue(&self, function: &str, url: &str) -> SqsQueue {
        let cfg = crate::moto_config().await;
        let conf = aws_sdk_sqs::config::Builder::from(&cfg)
            .interceptor(Recording { function: function.into(), recorder: self.clone() })
            .build();
        SqsQueue::new(aws_sdk_sqs::Client::from_conf(conf), url, None)
    }
}

#[derive(Debug)]
struct Recording {
    function: String,
    recorder: Recorder,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recorder")
    }
}

impl Intercept for Recording {
    fn name(&self) -> &'static str {
        "IamRecording"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        for (action, resource) in actions(context) {
            self.recorder.add(&self.function, &action, &resource);
        }
        Ok(())
    }
}

/// The IAM actions (and resources) that authorize one SDK call.
fn actions(context: &BeforeSerializationInterceptorContextRef<'_>) -> Vec<(String, String)> {
    let input = context.input();
    let one = |a: &str, r: &str| vec![(a.to_string(), r.to_string())];
    if input.downcast_ref::<ddb::get_item::GetItemInput>().is_some() {
        return one("dynamodb:GetItem", "table");
    }
    if input.downcast_ref::<ddb::put_item::PutItemInput>().is_some() {
        return one("dynamodb:PutItem", "table");
    }
    if input.downcast_ref::<ddb::update_item::UpdateItemInput>().is_some() {
        return one("dynamodb:UpdateItem", "table");
    }
    if input.downcast_ref::<ddb::delete_item::DeleteItemInput>().is_some() {
        return one("dynamodb:DeleteItem", "table");
    }
    if let Some(q) = input.downcast_ref::<ddb::query::QueryInput>() {
        let r = q.index_name().map(|i| format!("index/{i}")).unwrap_or_else(|| "table".into());
        return one("dynamodb:Query", &r);
    }
    if let Some(s) = input.downcast_ref::<ddb::scan::ScanInput>() {
        let r = s.index_name().map(|i| format!("index/{i}")).unwrap_or_else(|| "table".into());
        return one("dynamodb:Scan", &r);
    }
    if input.downcast_ref::<ddb::batch_get_item::BatchGetItemInput>().is_some() {
        return one("dynamodb:BatchGetItem", "table");
    }
    if input.downcast_ref::<ddb::batch_write_item::BatchWriteItemInput>().is_some() {
        return one("dynamodb:BatchWriteItem", "table");
    }
    if input.downcast_ref::<ddb::transact_get_items::TransactGetItemsInput>().is_some() {
        return one("dynamodb:GetItem", "table");
    }
    if let Some(t) = input.downcast_ref::<ddb::transact_write_items::TransactWriteItemsInput>() {
        return t
            .transact_items()
            .iter()
            .flat_map(|i| {
                [
                    i.put().map(|_| "dynamodb:PutItem"),
                    i.update().map(|_| "dynamodb:UpdateItem"),
                    i.delete().map(|_| "dynamodb:DeleteItem"),
                    i.condition_check().map(|_| "dynamodb:ConditionCheckItem"),
                ]
            })
            .flatten()
            .map(|a| (a.to_string(), "table".to_string()))
            .collect();
    }
    // sqs:SendMessage authorizes SendMessageBatch too.
    if input.downcast_ref::<sqs::send_message_batch::SendMessageBatchInput>().is_some()
        || input.downcast_ref::<sqs::send_message::SendMessageInput>().is_some()
    {
        return one("sqs:SendMessage", "queue");
    }
    if input.downcast_ref::<sqs::receive_message::ReceiveMessageInput>().is_some() {
        return one("sqs:ReceiveMessage", "queue");
    }
    if input.downcast_ref::<sqs::delete_message::DeleteMessageInput>().is_some() {
        return one("sqs:DeleteMessage", "queue");
    }
    if input.downcast_ref::<sqs::change_message_visibility::ChangeMessageVisibilityInput>().is_some() {
        return one("sqs:ChangeMessageVisibility", "queue");
    }
    if input.downcast_ref::<sqs::get_queue_attributes::GetQueueAttributesInput>().is_some() {
        return one("sqs:GetQueueAttributes", "queue");
    }
    // Anything else is recorded under its own name, so the check names it.
    vec![("unknown operation".to_string(), "?".to_string())]
}

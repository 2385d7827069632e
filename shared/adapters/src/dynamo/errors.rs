//! SDK errors as the store's [`StoreError`]: a failed call keeps the SDK error as its source;
//! a conditional write that lost its condition is an answer, not an error.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::query::QueryError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use domain::ports::StoreError;

/// The error of a TransactWriteItems call.
type TransactError<R> = SdkError<TransactWriteItemsError, R>;

/// A failed call of operation `op`, the SDK error kept as its source.
pub(super) fn backend<E>(op: &'static str) -> impl FnOnce(E) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |e| StoreError::Backend { op, source: Box::new(e) }
}

pub(super) fn is_conditional_failure<E, R>(e: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    e.as_service_error().and_then(|se| se.code()) == Some("ConditionalCheckFailedException")
}

/// Whether a conditional write was applied (`false`: its condition did not hold).
pub(super) fn conditional<T, E, R>(r: Result<T, SdkError<E, R>>, op: &'static str) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match r {
        Ok(_) => Ok(true),
        Err(e) if is_conditional_failure(&e) => Ok(false),
        Err(e) => Err(backend(op)(e)),
    }
}

/// Whether a call failed for a reason a later attempt may not meet: throttling, a timeout, a
/// server or network fault.
pub(super) fn transient<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> bool {
    match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(se) if se.raw().status().is_server_error() => true,
        SdkError::ServiceError(se) => matches!(
            se.err().code(),
            Some(
                "ProvisionedThroughputExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
                    | "ServiceUnavailable"
                    | "TransactionInProgressException"
            )
        ),
        _ => false,
    }
}

/// The reason code each item of a cancelled transaction gives, in the order of its items
/// (None: the transaction was not cancelled).
pub(super) fn cancellation_reasons<R>(e: &TransactError<R>) -> Option<Vec<Option<&str>>> {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
            Some(c.cancellation_reasons().iter().map(|r| r.code()).collect())
        }
        _ => None,
    }
}

/// Whether a transaction was cancelled with `reason` on any of its items.
pub(super) fn transaction_cancelled_for<R>(e: &TransactError<R>, reason: &str) -> bool {
    cancellation_reasons(e).is_some_and(|reasons| reasons.contains(&Some(reason)))
}

/// Whether a transaction was cancelled because one of its conditions did not hold.
pub(super) fn transaction_condition_failed<R>(e: &TransactError<R>) -> bool {
    transaction_cancelled_for(e, "ConditionalCheckFailed")
}

/// Whether a transaction was cancelled because another one was writing the same item.
pub(super) fn transaction_conflicted<R>(e: &TransactError<R>) -> bool {
    transaction_cancelled_for(e, "TransactionConflict")
}

/// A failed Query: a start key DynamoDB refuses is a cursor this listing did not issue.
pub(super) fn query_error<R>(e: SdkError<QueryError, R>) -> StoreError
where
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if e.as_service_error().and_then(|se| se.message()).is_some_and(|m| m.contains("start")) {
        StoreError::InvalidCursor
    } else {
        backend("Query")(e)
    }
}

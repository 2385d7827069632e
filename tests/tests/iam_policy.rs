//! Least privilege, checked (issue 13, "Proofs in CI"): for each Lambda function, the static
//! list of DynamoDB and SQS actions its code calls ([`NEEDS`]) against the policies
//! `template.yaml` gives it. Every needed action must be granted on the resource it is called
//! on (the table, the index, the queue), and no DynamoDB or SQS action may be granted that the
//! list does not name. Moto does not enforce IAM, so without this check a missing grant (the
//! worker's `BatchGetItem`, once) shows only in production.
//!
//! The list is kept honest by `iam_policy/flows.rs`: every function's main flows run on moto
//! with each function on its own recording clients (`integration_tests::iam`), and every call
//! recorded must be in that function's list.
//!
//! How the list was made: each function's code paths (`functions/*/src`) through the store
//! ports to the adapter methods they use (`shared/adapters/src/dynamo/*.rs`, `sqs.rs`). IAM
//! has no action for `TransactWriteItems`: each of its items is authorized by `PutItem`,
//! `UpdateItem`, `DeleteItem` or `ConditionCheckItem`, so the list names those. `SendMessage`
//! authorizes `SendMessageBatch`. The worker's receive and delete are Lambda's SQS event source,
//! whose permissions SAM adds for the event source, not calls of the function's code.

#[path = "iam_policy/flows.rs"]
mod flows;
#[path = "iam_policy/template.rs"]
mod template;

/// One function: its logical id in `template.yaml` and the (IAM action, resource) pairs its
/// code needs; resources are `table`, `index/NAME` and `queue` (the events queue).
pub struct Needs {
    pub function: &'static str,
    pub logical_id: &'static str,
    pub needs: &'static [(&'static str, &'static str)],
}

const T: &str = "table";
const Q: &str = "queue";

pub const NEEDS: &[Needs] = &[
    // Signed events into the queue (SendMessageBatch).
    Needs { function: "webhook", logical_id: "WebhookFunction", needs: &[("sqs:SendMessage", Q)] },
    Needs {
        function: "assignment",
        logical_id: "AssignmentFunction",
        needs: &[
            // Routes, headers, members, rules, comments, turns, tokens.
            ("dynamodb:GetItem", T),
            // Messages, move-log entries, comments, hand-offs (also inside transactions).
            ("dynamodb:PutItem", T),
            // Headers, claims, turns, history-sync cursors, comment changes.
            ("dynamodb:UpdateItem", T),
            // A Page's data deletion: the conversations' headers.
            ("dynamodb:DeleteItem", T),
            // Partitions (messages of a conversation, a rule's turn, the move log); walks of a
            // member's inbox (gsi1, re-homing) and of a Page's (gsi3, erasure); comment lookup
            // (gsi1).
            ("dynamodb:Query", T),
            ("dynamodb:Query", "index/gsi1"),
            ("dynamodb:Query", "index/gsi3"),
            // Re-homing: an inbox walk past its first page reads the moved headers.
            ("dynamodb:BatchGetItem", T),
            // A Page's data deletion: the messages, 25 at a time.
            ("dynamodb:BatchWriteItem", T),
            // The next step of a history sync, re-homing or erasure job.
            ("sqs:SendMessage", Q),
        ],
    },
    Needs {
        function: "admin-api",
        logical_id: "AdminApiFunction",
        needs: &[
            ("dynamodb:GetItem", T),
            ("dynamodb:PutItem", T),
            ("dynamodb:UpdateItem", T),
            ("dynamodb:DeleteItem", T),
            // Member removal (the keeper owner), connect into a rule, disconnect, a Page's
            // data deletion (the route not held): transaction condition checks.
            ("dynamodb:ConditionCheckItem", T),
            // Members, rules, the move log; the inbox views: the shop's (gsi2), a Page's
            // (gsi3), an agent's or a pool's (gsi1); a conversation's messages (lsi1).
            ("dynamodb:Query", T),
            ("dynamodb:Query", "index/gsi1"),
            ("dynamodb:Query", "index/gsi2"),
            ("dynamodb:Query", "index/gsi3"),
            ("dynamodb:Query", "index/lsi1"),
            // Inbox walks: current headers of conversations that moved during the walk.
            ("dynamodb:BatchGetItem", T),
            // History sync on connect, re-homing on member removal, a Page's data deletion.
            ("sqs:SendMessage", Q),
        ],
    },
    Needs {
        function: "oauth-callback",
        logical_id: "OAuthCallbackFunction",
        needs: &[
            ("dynamodb:GetItem", T),
            ("dynamodb:PutItem", T),
            ("dynamodb:UpdateItem", T),
            ("dynamodb:DeleteItem", T),
        ],
    },
    Needs {
        function: "meta-callbacks",
        logical_id: "MetaCallbacksFunction",
        needs: &[
            ("dynamodb:GetItem", T),
            ("dynamodb:PutItem", T),
            ("dynamodb:UpdateItem", T),
            ("dynamodb:DeleteItem", T),
            ("dynamodb:ConditionCheckItem", T),
            ("dynamodb:Query", T),
        ],
    },
    Needs {
        function: "page-health",
        logical_id: "PageHealthFunction",
        needs: &[("dynamodb:GetItem", T), ("dynamodb:UpdateItem", T), ("dynamodb:Query", "index/gsi1")],
    },
    // Answers from memory: no table, no queue.
    Needs { function: "console", logical_id: "ConsoleFunction", needs: &[] },
];

const TEMPLATE: &str = include_str!("../../template.yaml");

/// The check against the template in the repository.
#[test]
fn every_function_is_granted_what_its_code_calls_and_nothing_more() {
    let problems = template::check(TEMPLATE, NEEDS);
    integration_tests::report(&format!(
        "IAM check: {} functions, {} needed (action, resource) pairs checked against template.yaml",
        NEEDS.len(),
        NEEDS.iter().map(|n| n.needs.len()).sum::<usize>()
    ));
    assert!(problems.is_empty(), "template.yaml's policies do not match the code:\n{}", problems.join("\n"));
}

/// The check catches what it is for: the worker without `BatchGetItem` (the grant once
/// missing), a function given an action it does not use, and a wildcard.
#[test]
fn the_check_fails_on_a_missing_grant_an_extra_one_and_a_wildcard() {
    let without = TEMPLATE.replacen(
        "                - dynamodb:BatchGetItem # re-homing",
        "                # re-homing",
        1,
    );
    assert_ne!(without, TEMPLATE, "the worker's BatchGetItem line was found");
    let problems = template::check(&without, NEEDS);
    assert!(
        problems.iter().any(|p| p.contains("AssignmentFunction") && p.contains("dynamodb:BatchGetItem")),
        "{problems:?}"
    );
    let extra = TEMPLATE.replacen(
        "                - dynamodb:GetItem\n                - dynamodb:UpdateItem\n                - dynamodb:Query\n",
        "                - dynamodb:GetItem\n                - dynamodb:UpdateItem\n                - dynamodb:Query\n                - dynamodb:Scan\n",
        1,
    );
    assert_ne!(extra, TEMPLATE, "page-health's action list was found");
    let problems = template::check(&extra, NEEDS);
    assert!(
        problems.iter().any(|p| p.contains("PageHealthFunction") && p.contains("dynamodb:Scan")),
        "{problems:?}"
    );
    let wildcard = TEMPLATE.replacen("Action: sqs:SendMessage", "Action: sqs:*", 1);
    let problems = template::check(&wildcard, NEEDS);
    assert!(problems.iter().any(|p| p.contains("WebhookFunction") && p.contains("sqs:*")), "{problems:?}");
}

/// SAM policy templates are expanded to their actions (a `DynamoDBCrudPolicy` grants far more
/// than the console needs).
#[test]
fn sam_policy_templates_are_expanded() {
    let crud = TEMPLATE.replacen(
        "      # No Policies: it reads no table, queue or secret.",
        "      Policies:\n        - DynamoDBCrudPolicy:\n            TableName: !Ref Table\n      # No Policies: it reads no table, queue or secret.",
        1,
    );
    assert_ne!(crud, TEMPLATE, "the console's comment was found");
    let problems = template::check(&crud, NEEDS);
    assert!(
        problems.iter().any(|p| p.contains("ConsoleFunction") && p.contains("dynamodb:DeleteItem")),
        "{problems:?}"
    );
}

//! `template.yaml` read as IAM grants: each function's `Policies` (inline statements and SAM
//! policy templates, expanded to their actions), with CloudFormation's `!GetAtt` / `!Sub` /
//! `!Ref` resources named as the static lists name them (`table`, `index/NAME`, `queue`).

use serde_norway::Value;

use crate::Needs;

/// One granted (action, resource).
type Grant = (String, String);

/// The name a resource goes by in the static lists.
fn resource(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Tagged(t) => {
            let tag = t.tag.to_string();
            let inner = match &t.value {
                Value::String(s) => s.clone(),
                Value::Sequence(seq) => seq.first().and_then(Value::as_str).unwrap_or_default().to_string(),
                other => format!("{other:?}"),
            };
            match tag.trim_start_matches('!') {
                "GetAtt" | "Ref" => match inner.split('.').next().unwrap_or_default() {
                    "Table" => "table".into(),
                    "EventsQueue" => "queue".into(),
                    other => format!("resource {other}"),
                },
                "Sub" => match inner.strip_prefix("${Table.Arn}/") {
                    Some(rest) => rest.to_string(),
                    None => format!("Sub {inner}"),
                },
                other => format!("{other} {inner}"),
            }
        }
        other => format!("{other:?}"),
    }
}

fn strings(v: &Value) -> Vec<Value> {
    match v {
        Value::Sequence(s) => s.clone(),
        Value::Null => Vec::new(),
        one => vec![one.clone()],
    }
}

/// The actions of the SAM policy templates that could touch the table or the queue.
fn sam_template(name: &str, params: &Value) -> Option<Vec<Grant>> {
    let table = |actions: &[&str]| -> Vec<Grant> {
        let on = resource(&params["TableName"]);
        let index = if on == "table" { "index/*".to_string() } else { format!("{on}/index/*") };
        actions
            .iter()
            .flat_map(|a| [(format!("dynamodb:{a}"), on.clone()), (format!("dynamodb:{a}"), index.clone())])
            .collect()
    };
    let queue = |actions: &[&str]| -> Vec<Grant> {
        let on = resource(&params["QueueName"]);
        actions.iter().map(|a| (format!("sqs:{a}"), on.clone())).collect()
    };
    Some(match name {
        "DynamoDBCrudPolicy" => table(&[
            "GetItem",
            "DeleteItem",
            "PutItem",
            "Scan",
            "Query",
            "UpdateItem",
            "BatchWriteItem",
            "BatchGetItem",
            "DescribeTable",
            "ConditionCheckItem",
        ]),
        "DynamoDBReadPolicy" => {
            table(&["GetItem", "Scan", "Query", "BatchGetItem", "DescribeTable", "PartiQLSelect"])
        }
        "DynamoDBWritePolicy" => table(&["PutItem", "UpdateItem", "BatchWriteItem"]),
        "SQSSendMessagePolicy" => queue(&["SendMessage*"]),
        "SQSPollerPolicy" => queue(&[
            "ChangeMessageVisibility",
            "ChangeMessageVisibilityBatch",
            "DeleteMessage",
            "DeleteMessageBatch",
            "GetQueueAttributes",
            "ReceiveMessage",
        ]),
        _ => return None,
    })
}

/// Every grant of one function's `Policies`; a policy this check cannot read is a problem.
fn grants(function: &Value, id: &str, problems: &mut Vec<String>) -> Vec<Grant> {
    let mut out = Vec::new();
    for policy in strings(&function["Properties"]["Policies"]) {
        if let Some(doc) = policy.get("Statement") {
            for st in strings(doc) {
                if st["Effect"].as_str() != Some("Allow") {
                    continue;
                }
                for action in strings(&st["Action"]) {
                    let action = action.as_str().unwrap_or_default().to_string();
                    for r in strings(&st["Resource"]) {
                        out.push((action.clone(), resource(&r)));
                    }
                }
            }
            continue;
        }
        let expanded = policy.as_mapping().and_then(|m| {
            let (name, params) = m.iter().next()?;
            sam_template(name.as_str()?, params)
        });
        match expanded {
            Some(g) => out.extend(g),
            None => problems.push(format!("{id}: a policy this check cannot read: {policy:?}")),
        }
    }
    out
}

/// Whether a grant's resource covers the resource a call names.
fn covers(granted: &str, needed: &str) -> bool {
    granted == needed || granted == "*" || (granted == "index/*" && needed.starts_with("index/"))
}

/// Whether a granted action names this needed one (`sqs:SendMessage*` names SendMessage).
fn names(granted: &str, needed: &str) -> bool {
    granted == needed || granted.strip_suffix('*').is_some_and(|p| needed.starts_with(p) && !p.ends_with(':'))
}

/// Every mismatch between the template and the static lists, each naming its function.
pub fn check(template: &str, all: &[Needs]) -> Vec<String> {
    let doc: Value = match serde_norway::from_str(template) {
        Ok(d) => d,
        Err(e) => return vec![format!("template.yaml does not parse: {e}")],
    };
    let mut problems = Vec::new();
    let Some(resources) = doc["Resources"].as_mapping() else {
        return vec!["template.yaml has no Resources".into()];
    };
    for (id, res) in resources {
        let id = id.as_str().unwrap_or_default();
        if res["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let Some(needs) = all.iter().find(|n| n.logical_id == id) else {
            problems.push(format!("{id}: a function with no static list of the actions it calls"));
            continue;
        };
        let granted = grants(res, id, &mut problems);
        for (action, on) in needs.needs {
            if !granted.iter().any(|(a, r)| names(a, action) && covers(r, on)) {
                problems.push(format!("{id}: {action} on {on} is called by the code but not granted"));
            }
        }
        for (action, on) in &granted {
            let ours = action.starts_with("dynamodb:") || action.starts_with("sqs:") || action == "*";
            if !ours {
                continue;
            }
            // An action is judged per function (IAM ignores item actions on an index ARN); an
            // index grant must also cover an index the function queries.
            let used = needs.needs.iter().any(|(a, _)| a == action);
            let index_used = !on.starts_with("index/") || needs.needs.iter().any(|(_, r)| covers(on, r));
            if !used || !index_used || action.ends_with('*') {
                problems.push(format!("{id}: {action} on {on} is granted but the code does not call it"));
            }
        }
    }
    for n in all {
        if !resources.iter().any(|(id, _)| id.as_str() == Some(n.logical_id)) {
            problems.push(format!("{}: in the static list but not in template.yaml", n.logical_id));
        }
    }
    problems
}

//! The events-sent-vs-stored checker: sends customer messages as Meta does (signed POSTs of a
//! few items, grouped per Page, some POSTs delivered twice, each POST retried until answered
//! 200), waits until the queue is quiet, then reads the whole table straight from moto and
//! counts: every sent message stored exactly once in its shop's conversation, nothing else
//! stored, each new conversation assigned once to whom its Page's mode says, the dead-letter
//! queue empty.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use domain::ports::QueueConsumer;
use futures::StreamExt;
use serde_json::{Value, json};

use super::proxy::mix;
use super::world::{AGENTS_A, CUSTOMERS, OWNER_A, OWNER_B, RULE_A, SHOP_A, World, page_of, psid};
use crate::{http, sign, text_item};

/// One message sent: its id, where it must land.
#[derive(Debug, Clone)]
pub struct Sent {
    pub mid: String,
    pub tenant: &'static str,
    pub conversation: String,
}

/// The messages of a scenario and the POST bodies that carry them (duplicates included).
pub struct Traffic {
    pub sent: Vec<Sent>,
    pub posts: Vec<String>,
    pub duplicated_posts: usize,
}

/// `n` messages over the customers (each writes at least once when `n >= CUSTOMERS`), in POSTs
/// of 1 to 6 items grouped per Page as Meta batches them; about one POST in five is delivered
/// again later, as Meta does when it did not see our 200 in time.
pub fn traffic(tag: &str, seed: u64, n: usize) -> Traffic {
    let base = 1_764_000_000_000i64;
    let mut sent = Vec::new();
    let mut items: Vec<(&'static str, Value)> = Vec::new();
    for k in 0..n {
        let c = if k < CUSTOMERS { k } else { (mix(seed ^ (k as u64)) % CUSTOMERS as u64) as usize };
        let (page, tenant, _) = page_of(c);
        let mid = format!("m.{tag}.{k}");
        items.push((page, text_item(page, &psid(c), base + k as i64 * 10, &mid, &format!("tin {k}"))));
        sent.push(Sent { mid, tenant, conversation: format!("{page}_{}", psid(c)) });
    }
    let mut posts = Vec::new();
    let mut again = Vec::new();
    let mut rest = items.as_slice();
    let mut p = 0u64;
    while !rest.is_empty() {
        let size = (1 + mix(seed ^ 0xB47C ^ p) % 6) as usize;
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;
        let mut entries: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        for (page, item) in chunk {
            entries.entry(page).or_default().push(item.clone());
        }
        let entry: Vec<Value> = entries
            .into_iter()
            .map(|(id, messaging)| json!({"id": id, "time": 1, "messaging": messaging}))
            .collect();
        let body = json!({"object": "page", "entry": entry}).to_string();
        if mix(seed ^ 0xD0B1 ^ p).is_multiple_of(5) {
            again.push(body.clone());
        }
        posts.push(body);
        p += 1;
    }
    let duplicated_posts = again.len();
    posts.extend(again);
    Traffic { sent, posts, duplicated_posts }
}

/// POSTs every body to the webhook, four at a time, each until it is answered 200 (Meta retries
/// what it did not get a 200 for). Returns the number of answers that were not 200.
pub async fn deliver(world: &World, posts: &[String]) -> usize {
    let url = world.front.url("/webhooks/facebook");
    let client = http();
    let retries = futures::stream::iter(posts.iter().cloned())
        .map(|body| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                for attempt in 0..60 {
                    let r = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .header("x-hub-signature-256", sign(&body))
                        .body(body.clone())
                        .send()
                        .await;
                    if r.is_ok_and(|r| r.status().as_u16() == 200) {
                        return attempt;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                panic!("the webhook never accepted a POST in 60 tries");
            }
        })
        .buffer_unordered(4)
        .collect::<Vec<usize>>()
        .await;
    retries.iter().sum()
}

/// One item of the table, as the checker needs it.
struct Row {
    pk: String,
    sk: String,
    item: HashMap<String, AttributeValue>,
}

impl Row {
    fn s(&self, name: &str) -> Option<&str> {
        self.item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
    }
    fn n(&self, name: &str) -> Option<i64> {
        self.item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok())
    }
}

/// The whole table, straight from moto.
async fn scan(world: &World) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let out = world
            .dynamo
            .scan()
            .table_name(&world.table)
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .expect("scan the table on moto");
        for item in out.items.unwrap_or_default() {
            let pk = item.get("pk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            let sk = item.get("sk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            rows.push(Row { pk, sk, item });
        }
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return rows,
        }
    }
}

/// What a scenario left in the table, against what was sent.
#[derive(Debug, Default)]
pub struct Outcome {
    pub scenario: String,
    pub sent: usize,
    pub posts: usize,
    pub duplicated_posts: usize,
    pub meta_retries: usize,
    /// Sent messages found once, where they belong.
    pub stored: usize,
    /// Sent messages inserted more than once (the store reported two inserts, or two items).
    pub duplicates: Vec<String>,
    /// Sent messages found nowhere.
    pub lost: Vec<String>,
    /// Sent messages found under another shop or conversation.
    pub misplaced: Vec<String>,
    /// Message items nobody sent.
    pub extra: Vec<String>,
    pub conversations: usize,
    /// Conversations whose assignment is wrong or unfinished, with why.
    pub bad_assignments: Vec<String>,
    /// Round robin: conversations of the shared Page, turns spent net of returned ones, and the
    /// spread between the busiest and the idlest agent.
    pub shared_conversations: usize,
    pub net_turns: i64,
    pub spread: usize,
    /// Conversations of the shared Page per agent.
    pub per_agent: Vec<usize>,
    /// Move log entries naming a conversation the shop does not have.
    pub stray_moves: usize,
    pub names_known: usize,
    pub dead_letters: usize,
    pub injected: BTreeMap<String, u64>,
    pub profile_lookups: usize,
    pub seconds: f64,
}

impl Outcome {
    /// The one-line summary the reliability doc's table is made of.
    pub fn summary(&self) -> String {
        let injected: Vec<String> = self.injected.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(
            "FAULTS {}: sent={} stored={} duplicates={} lost={} misplaced={} extra={} posts={} (again={}, meta_retries={}) conversations={} bad_assignments={} rr(conv={}, net_turns={}, per_agent={:?}, spread={}) stray_moves={} names={} profile_lookups={} dlq={} injected={} [{}] in {:.1}s",
            self.scenario,
            self.sent,
            self.stored,
            self.duplicates.len(),
            self.lost.len(),
            self.misplaced.len(),
            self.extra.len(),
            self.posts,
            self.duplicated_posts,
            self.meta_retries,
            self.conversations,
            self.bad_assignments.len(),
            self.shared_conversations,
            self.net_turns,
            self.per_agent,
            self.spread,
            self.stray_moves,
            self.names_known,
            self.profile_lookups,
            self.dead_letters,
            self.injected.values().sum::<u64>(),
            injected.join(" "),
            self.seconds,
        )
    }

    /// The promise: every message once, in its place, nothing else; every conversation assigned
    /// once; nothing dead-lettered. `fair_turns`: also no round-robin turn lost (holds when no
    /// write's answer is lost and no worker dies, see docs/table-design.md, "Round-robin turn").
    pub fn assert_kept(&self, fair_turns: bool) {
        assert!(self.duplicates.is_empty(), "{}: stored twice: {:?}", self.scenario, self.duplicates);
        assert!(self.lost.is_empty(), "{}: lost: {:?}", self.scenario, self.lost);
        assert!(self.misplaced.is_empty(), "{}: in the wrong place: {:?}", self.scenario, self.misplaced);
        assert!(self.extra.is_empty(), "{}: stored but never sent: {:?}", self.scenario, self.extra);
        assert_eq!(self.stored, self.sent, "{}", self.scenario);
        assert_eq!(self.conversations, CUSTOMERS, "{}: conversations", self.scenario);
        assert!(self.bad_assignments.is_empty(), "{}: {:?}", self.scenario, self.bad_assignments);
        assert_eq!(self.stray_moves, 0, "{}: move log entries of unknown conversations", self.scenario);
        assert_eq!(self.dead_letters, 0, "{}: records in the dead-letter queue", self.scenario);
        if fair_turns {
            assert_eq!(
                self.net_turns, self.shared_conversations as i64,
                "{}: one turn per conversation",
                self.scenario
            );
            assert!(self.spread <= 1, "{}: round robin spread {}", self.scenario, self.spread);
        }
    }
}

/// Waits until the queue is empty (no record visible or in flight) and every sent message is in
/// the table, then checks once more after a pause, so a late copy would land before the count.
/// Gives up when the queue has stayed empty for three visibility timeouts with messages still
/// missing (they are lost: nothing is left to bring them), or after `secs`. The table is scanned
/// only when the queue is empty: moto serves DynamoDB one request at a time, and a scan in the
/// middle of the work would slow it down.
pub async fn wait_quiet(world: &World, sent: &[Sent], secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let give_up = Duration::from_secs(3 * u64::from(super::world::VISIBILITY_SECS));
    let wanted: std::collections::HashSet<String> = sent.iter().map(|s| format!("M#{}", s.mid)).collect();
    let mut quiet_rounds = 0;
    let mut empty_since: Option<Instant> = None;
    while Instant::now() < deadline && quiet_rounds < 2 {
        if world.queue_depth().await != 0 {
            (quiet_rounds, empty_since) = (0, None);
            tokio::time::sleep(Duration::from_millis(300)).await;
            continue;
        }
        let since = *empty_since.get_or_insert_with(Instant::now);
        if scan(world).await.iter().filter(|r| wanted.contains(&r.sk)).count() >= wanted.len() {
            quiet_rounds += 1;
            tokio::time::sleep(Duration::from_millis(1_000)).await;
        } else if since.elapsed() > give_up {
            return;
        } else {
            quiet_rounds = 0;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// Counts what the table holds against what was sent.
pub async fn check(
    world: &World,
    scenario: &str,
    traffic: &Traffic,
    meta_retries: usize,
    started: Instant,
) -> Outcome {
    let rows = scan(world).await;
    let inserted = world.counter.inserted.lock().map(|m| m.clone()).unwrap_or_default();
    let mut out = Outcome {
        scenario: scenario.into(),
        sent: traffic.sent.len(),
        posts: traffic.posts.len(),
        duplicated_posts: traffic.duplicated_posts,
        meta_retries,
        ..Outcome::default()
    };
    // Every message item, by mid: where it is.
    let mut places: HashMap<&str, Vec<&str>> = HashMap::new();
    for r in rows.iter().filter(|r| r.sk.starts_with("M#")) {
        places.entry(&r.sk[2..]).or_default().push(&r.pk);
    }
    for s in &traffic.sent {
        let want = format!("T#{}#C#{}", s.tenant, s.conversation);
        match places.remove(s.mid.as_str()) {
            None => out.lost.push(s.mid.clone()),
            Some(at) if at.len() > 1 || inserted.get(&s.mid).copied().unwrap_or(0) > 1 => {
                out.duplicates.push(format!("{} at {at:?}, inserted {:?}", s.mid, inserted.get(&s.mid)))
            }
            Some(at) if at[0] != want => out.misplaced.push(format!("{} at {}", s.mid, at[0])),
            Some(_) => out.stored += 1,
        }
    }
    out.extra = places.into_keys().map(String::from).collect();
    // Conversations: assigned once, to whom the Page's mode says.
    let mut per_agent: BTreeMap<String, usize> = AGENTS_A.iter().map(|a| (a.to_string(), 0)).collect();
    let headers: Vec<&Row> = rows.iter().filter(|r| r.sk == "#META").collect();
    out.conversations = headers.len();
    for h in &headers {
        let conv = h.s("conversation_id").unwrap_or_default();
        let c = (0..CUSTOMERS).find(|c| format!("{}_{}", page_of(*c).0, psid(*c)) == conv);
        let Some(c) = c else {
            out.bad_assignments.push(format!("{conv}: not a conversation of the traffic"));
            continue;
        };
        let (_, tenant, shared) = page_of(c);
        let assignee = h.s("assignee").unwrap_or_default().to_string();
        if h.pk != format!("T#{tenant}#C#{conv}") {
            out.bad_assignments.push(format!("{conv}: header under {}", h.pk));
        }
        if h.s("assign_state") != Some("done") {
            out.bad_assignments.push(format!("{conv}: assignment not done ({:?})", h.s("assign_state")));
        }
        if h.s("customer_name").is_some() {
            out.names_known += 1;
        }
        if shared {
            out.shared_conversations += 1;
            match per_agent.get_mut(&assignee) {
                Some(n) => *n += 1,
                None => {
                    out.bad_assignments.push(format!("{conv}: assigned to {assignee:?}, not a rule agent"))
                }
            }
        } else {
            let owner = if tenant == SHOP_A { OWNER_A } else { OWNER_B };
            if assignee != owner {
                out.bad_assignments.push(format!("{conv}: assigned to {assignee:?}, not {owner}"));
            }
        }
    }
    let counts: Vec<usize> = per_agent.values().copied().collect();
    out.per_agent = counts.clone();
    out.spread = counts.iter().max().copied().unwrap_or(0) - counts.iter().min().copied().unwrap_or(0);
    if let Some(rule) =
        rows.iter().find(|r| r.pk == format!("T#{SHOP_A}") && r.sk == format!("RULE#{RULE_A}"))
    {
        let returned = rule.item.get("returned_turns").and_then(|v| v.as_ns().ok()).map_or(0, Vec::len);
        out.net_turns = rule.n("rr_turn").unwrap_or(0) - returned as i64;
    }
    // The move log names only conversations its shop has.
    for m in rows.iter().filter(|r| r.pk.ends_with("#MOVES")) {
        let tenant = m.pk.trim_start_matches("T#").trim_end_matches("#MOVES");
        let conv = m.s("conversation_id").unwrap_or_default();
        if !headers.iter().any(|h| h.pk == format!("T#{tenant}#C#{conv}")) {
            out.stray_moves += 1;
        }
    }
    out.dead_letters = world.queue.dead_letter_depth().await.unwrap_or(usize::MAX);
    out.injected = world.proxy.injected();
    out.profile_lookups = world.fake.request_count("profile");
    out.seconds = started.elapsed().as_secs_f64();
    out
}

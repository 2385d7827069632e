//! Fault injection on moto server and the fake Graph API, with the events-sent-vs-stored checker
//! (`tests/tests/fault_injection.rs`; figures in `docs/RELIABILITY.md`).
//!
//! [`proxy`] plays AWS's faults between the functions and moto; [`world`] is two shops, three
//! Pages, the webhook and a worker that can be killed; [`checker`] sends Meta-like traffic and
//! counts what the table holds. [`run`] puts them together for one scenario.

pub mod checker;
pub mod proxy;
pub mod world;

use std::time::{Duration, Instant};

use crate::fake_graph::FakeFailure;
pub use checker::Outcome;
pub use proxy::{DYNAMO_DATA, DYNAMO_WRITES, Fault, Rule, SQS_DATA};

/// One scenario: the traffic and the faults played on it.
pub struct Scenario {
    pub name: &'static str,
    pub seed: u64,
    pub messages: usize,
    /// AWS faults, active from the first POST to the end.
    pub rules: Vec<Rule>,
    /// Kill the worker after this many more DynamoDB writes, one kill per entry, each time
    /// starting a fresh worker once the killed one is gone.
    pub kills: Vec<u64>,
    /// Failures the fake Graph API plays on the worker's profile lookups, in order.
    pub graph: Vec<FakeFailure>,
}

impl Scenario {
    pub fn new(name: &'static str, seed: u64, messages: usize) -> Scenario {
        Scenario { name, seed, messages, rules: Vec::new(), kills: Vec::new(), graph: Vec::new() }
    }
}

/// Runs a scenario in a world of its own and returns what the checker counted (printed as one
/// line, whatever the outcome, and appended to the file `RELIABILITY_REPORT` names, if set: [`crate::report`]).
pub async fn run(s: Scenario) -> Outcome {
    let started = Instant::now();
    let world = world::World::new(s.seed).await;
    for f in &s.graph {
        world.fake.fail_next("profile", f.clone());
    }
    let traffic = checker::traffic(s.name, s.seed, s.messages);
    world.proxy.set_rules(s.rules.clone());
    let killer = async {
        for n in &s.kills {
            world.proxy.kill_after_writes(*n);
            let deadline = Instant::now() + Duration::from_secs(10);
            while !world.proxy.is_hung() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if !world.proxy.is_hung() {
                break; // the work ended before this kill's write
            }
            world.kill_worker();
            tokio::time::sleep(Duration::from_millis(100)).await;
            world.proxy.revive();
            world.start_worker().await;
        }
        world.proxy.revive();
    };
    let (meta_retries, ()) = tokio::join!(checker::deliver(&world, &traffic.posts), killer);
    checker::wait_quiet(&world, &traffic.sent, 60).await;
    world.proxy.set_rules(Vec::new());
    let out = checker::check(&world, s.name, &traffic, meta_retries, started).await;
    crate::report(&out.summary());
    out
}

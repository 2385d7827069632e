//! The in-memory FIFO queue (EventQueue and QueueConsumer).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use domain::event::OutboundQueueMessage;
use domain::ports::*;

struct QueuedMessage {
    id: String,
    group_id: String,
    body: String,
    receive_count: u32,
    invisible_until: Option<Instant>,
    receipt: Option<String>,
}

#[derive(Default)]
struct QueueState {
    messages: VecDeque<QueuedMessage>,
    dedup: HashMap<(String, String), Instant>,
    dead: Vec<QueuedMessage>,
    seq: u64,
}

/// An in-memory FIFO queue with SQS's semantics: message groups delivered in order with at
/// most one batch of a group in flight, a deduplication window, a visibility timeout, and a
/// dead-letter queue after `max_receives`.
pub struct MemoryQueue {
    state: Mutex<QueueState>,
    visibility: Duration,
    max_receives: u32,
    dedup_window: Duration,
    /// Test hook: the next N send calls fail as if SQS were unreachable.
    fail_sends: AtomicUsize,
    send_calls: AtomicUsize,
}

impl MemoryQueue {
    pub fn new(visibility: Duration, max_receives: u32) -> MemoryQueue {
        MemoryQueue {
            state: Mutex::new(QueueState::default()),
            visibility,
            max_receives,
            dedup_window: Duration::from_secs(300),
            fail_sends: AtomicUsize::new(0),
            send_calls: AtomicUsize::new(0),
        }
    }

    /// Makes the next `n` send calls fail.
    pub fn fail_next_sends(&self, n: usize) {
        self.fail_sends.store(n, Ordering::SeqCst);
    }

    /// How many send calls were made (successful or not).
    pub fn send_calls(&self) -> usize {
        self.send_calls.load(Ordering::SeqCst)
    }

    /// Messages waiting or in flight (not dead-lettered).
    pub fn depth(&self) -> usize {
        self.lock().messages.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn try_receive(&self, max: usize) -> Vec<ReceivedMessage> {
        let now = Instant::now();
        let mut s = self.lock();
        s.dedup.retain(|_, t| now.duration_since(*t) < self.dedup_window);
        let mut blocked: HashSet<String> = HashSet::new();
        let mut out = Vec::new();
        let mut i = 0;
        while i < s.messages.len() && out.len() < max {
            let m = &s.messages[i];
            if blocked.contains(&m.group_id) {
                i += 1;
                continue;
            }
            if m.invisible_until.is_some_and(|t| t > now) {
                blocked.insert(m.group_id.clone());
                i += 1;
                continue;
            }
            if m.receive_count >= self.max_receives {
                if let Some(dead) = s.messages.remove(i) {
                    s.dead.push(dead);
                }
                continue;
            }
            s.seq += 1;
            let receipt = format!("r-{}", s.seq);
            let m = &mut s.messages[i];
            m.receive_count += 1;
            m.invisible_until = Some(now + self.visibility);
            m.receipt = Some(receipt.clone());
            out.push(ReceivedMessage {
                message_id: m.id.clone(),
                receipt_handle: receipt,
                body: m.body.clone(),
                group_id: Some(m.group_id.clone()),
                receive_count: m.receive_count,
            });
            i += 1;
        }
        out
    }
}

#[async_trait]
impl EventQueue for MemoryQueue {
    async fn send_batch(&self, messages: &[OutboundQueueMessage]) -> Result<(), QueueError> {
        self.send_calls.fetch_add(1, Ordering::SeqCst);
        if self.fail_sends.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(QueueError::Backend {
                op: "SendMessageBatch",
                source: "injected failure: queue unreachable".into(),
            });
        }
        let now = Instant::now();
        let mut s = self.lock();
        for m in messages {
            let key = (m.group_id.clone(), m.dedup_id.clone());
            if s.dedup.get(&key).is_some_and(|t| now.duration_since(*t) < self.dedup_window) {
                continue;
            }
            s.dedup.insert(key, now);
            s.seq += 1;
            let id = format!("m-{}", s.seq);
            s.messages.push_back(QueuedMessage {
                id,
                group_id: m.group_id.clone(),
                body: m.body.clone(),
                receive_count: 0,
                invisible_until: None,
                receipt: None,
            });
        }
        Ok(())
    }
}

#[async_trait]
impl QueueConsumer for MemoryQueue {
    async fn receive(&self, max: usize, wait_seconds: u32) -> Result<Vec<ReceivedMessage>, QueueError> {
        // Long polling, as SQS's WaitTimeSeconds: look again every few ms until a message
        // arrives or the wait is over (a wait, not a retry: nothing failed).
        let deadline = Instant::now() + Duration::from_secs(u64::from(wait_seconds));
        loop {
            let got = self.try_receive(max);
            if !got.is_empty() || Instant::now() >= deadline {
                return Ok(got);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        let mut s = self.lock();
        s.messages.retain(|m| m.receipt.as_deref() != Some(receipt_handle));
        Ok(())
    }

    async fn release(&self, receipt_handle: &str) -> Result<(), QueueError> {
        let mut s = self.lock();
        for m in s.messages.iter_mut() {
            if m.receipt.as_deref() == Some(receipt_handle) {
                m.invisible_until = None;
            }
        }
        Ok(())
    }

    async fn dead_letter_depth(&self) -> Result<usize, QueueError> {
        Ok(self.lock().dead.len())
    }
}

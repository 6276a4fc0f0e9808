//! Requests in flight, answered in the order they were launched: the rule of
//! [`super::ahead`] for work that is not a page walk (one request per bundle
//! of a children run, say). The caller launches the next request only while
//! [`InFlight::room`] says so: under the cap, and no request already
//! launched is still waiting for the budget. So the burst goes out at once,
//! then one request per token refilled, and at most one request of this
//! caller ever queues for the budget.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::client::{Client, SendSignal};

struct Launched<T> {
    handle: JoinHandle<T>,
    sent: Arc<AtomicBool>,
}

impl<T> Drop for Launched<T> {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

pub struct InFlight<T> {
    queue: VecDeque<Launched<T>>,
    wake: Arc<Notify>,
    max: usize,
}

impl<T: Send + 'static> InFlight<T> {
    /// At most `max` (at least 1) launched and not taken.
    pub fn new(max: usize) -> InFlight<T> {
        InFlight { queue: VecDeque::new(), wake: Arc::new(Notify::new()), max: max.max(1) }
    }

    /// Whether one more request may be launched now.
    pub fn room(&self) -> bool {
        self.queue.len() < self.max && self.queue.iter().all(|l| l.sent.load(Ordering::Acquire))
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Launches `work`, given a clone of `client` that reports its sends here.
    pub fn launch<F, Fut>(&mut self, client: &Client, work: F)
    where
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = T> + Send + 'static,
    {
        let signal = SendSignal { sent: Arc::default(), wake: self.wake.clone() };
        let sent = signal.sent.clone();
        let handle = tokio::spawn(work(client.with_on_send(signal)));
        self.queue.push_back(Launched { handle, sent });
    }

    /// The answer of the oldest request launched (`None` if none is), calling
    /// `refill` each time a send is given meanwhile, so it may launch more.
    pub async fn next(&mut self, mut refill: impl FnMut(&mut InFlight<T>)) -> Option<T> {
        refill(self);
        loop {
            let wake = self.wake.clone();
            let front = self.queue.front_mut()?;
            tokio::select! {
                joined = &mut front.handle => {
                    self.queue.pop_front();
                    return match joined {
                        Ok(value) => Some(value),
                        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                        Err(_) => unreachable!("only a task dropped from the queue is aborted"),
                    };
                }
                () = wake.notified() => refill(self),
            }
        }
    }
}

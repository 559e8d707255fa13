//! Batching of the hot path's store calls: many callers' requests of one kind share one
//! database round trip.
//!
//! Every statement costs a hand-off to the driver's connection thread and back (sqlx runs each
//! SQLite connection on its own thread); per CWMP session those hand-offs, not SQL, were the
//! cost (BENCHMARKS.md). A [`Batcher`] runs one task per kind of request: a caller hands its
//! request over and waits; the task takes whatever requests are waiting when it is free, up to
//! `max_batch`, and serves them with one set of statements. Under load a batch serves many
//! sessions; when idle a request is served at once, alone (no timer, no added latency).
//!
//! * Writes (group commit): the answer comes only after the transaction holding the write
//!   committed (durable before acknowledged). With SQLite, one writer also means callers no
//!   longer queue on the database's write lock.
//! * Reads: a batch is read after each of its requests was made, so the answer is never older
//!   than the call.
//!
//! If a batch fails, each of its requests is tried again on its own, so one bad request fails
//! only itself. The queue is bounded; callers wait for room (back-pressure, not memory growth).

use std::future::Future;

use tokio::sync::{mpsc, oneshot};

use crate::{StoreError, StoreResult};

struct Job<Req, Resp> {
    request: Req,
    reply: oneshot::Sender<StoreResult<Resp>>,
}

/// The handle callers submit through; the batching task ends when it is dropped.
pub(crate) struct Batcher<Req, Resp> {
    jobs: mpsc::Sender<Job<Req, Resp>>,
}

impl<Req, Resp> Batcher<Req, Resp>
where
    Req: Send + 'static,
    Resp: Send + 'static,
{
    /// Starts the batching task on the current tokio runtime. `write` gets the requests of one
    /// batch (never empty, never more than `max_batch`) and returns one result per request, in
    /// order; a write must apply all of them in one transaction or none.
    pub(crate) fn start<W, Fut>(max_batch: usize, queue: usize, write: W) -> Self
    where
        W: Fn(Vec<Req>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<StoreResult<Resp>>> + Send + 'static,
        Req: Clone,
    {
        let (jobs, rx) = mpsc::channel(queue.max(1));
        tokio::spawn(run(rx, max_batch.max(1), write));
        Batcher { jobs }
    }

    /// Serves `request` in the next batch and returns its result once that batch is done.
    pub(crate) async fn submit(&self, request: Req) -> StoreResult<Resp> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { request, reply })
            .await
            .map_err(|_| StoreError::Unavailable("the store's batching task has stopped".into()))?;
        answer.await.map_err(|_| {
            StoreError::Unavailable("the store's batching task stopped before answering".into())
        })?
    }
}

async fn run<Req, Resp, W, Fut>(mut rx: mpsc::Receiver<Job<Req, Resp>>, max_batch: usize, write: W)
where
    Req: Clone,
    W: Fn(Vec<Req>) -> Fut,
    Fut: Future<Output = Vec<StoreResult<Resp>>>,
{
    let mut batch: Vec<Job<Req, Resp>> = Vec::with_capacity(max_batch);
    while rx.recv_many(&mut batch, max_batch).await > 0 {
        let mut results = write(requests_of(&batch)).await;
        let failed = results.iter().any(Result::is_err);
        if failed && batch.len() > 1 {
            // One transaction, so all of them failed: find out which on their own.
            results.clear();
            for request in requests_of(&batch) {
                let mut one = write(vec![request]).await;
                results.push(one.pop().unwrap_or_else(missing));
            }
        }
        let mut results = results.into_iter();
        for job in batch.drain(..) {
            // The caller may have gone (its connection closed): the write stands regardless.
            let _ = job.reply.send(results.next().unwrap_or_else(missing));
        }
    }
}

fn requests_of<Req: Clone, Resp>(batch: &[Job<Req, Resp>]) -> Vec<Req> {
    batch.iter().map(|j| j.request.clone()).collect()
}

fn missing<T>() -> StoreResult<T> {
    Err(StoreError::Backend(
        "a batch returned fewer results than requests".into(),
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[tokio::test]
    async fn requests_waiting_together_share_a_batch_and_each_gets_its_own_answer() {
        let batches = Arc::new(Mutex::new(Vec::<Vec<u32>>::new()));
        let seen = batches.clone();
        let gc = Arc::new(Batcher::start(8, 64, move |reqs: Vec<u32>| {
            seen.lock().unwrap().push(reqs.clone());
            async move { reqs.into_iter().map(|r| Ok(r * 10)).collect() }
        }));
        // Queued before the writer runs (current-thread runtime): they form batches of 8.
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let gc = gc.clone();
                tokio::spawn(async move { gc.submit(i).await })
            })
            .collect();
        for (i, h) in handles.into_iter().enumerate() {
            assert_eq!(h.await.unwrap().unwrap(), i as u32 * 10);
        }
        let batches = batches.lock().unwrap();
        assert!(batches.iter().all(|b| !b.is_empty() && b.len() <= 8));
        assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 20);
        assert!(batches.len() < 20, "no batching happened: {batches:?}");
    }

    #[tokio::test]
    async fn a_failing_batch_is_retried_one_by_one_so_only_the_bad_request_fails() {
        let gc = Arc::new(Batcher::start(8, 64, |reqs: Vec<u32>| async move {
            if reqs.contains(&3) {
                reqs.iter()
                    .map(|_| Err(StoreError::Invalid("three is bad".into())))
                    .collect()
            } else {
                reqs.into_iter().map(Ok).collect()
            }
        }));
        let handles: Vec<_> = (0..6)
            .map(|i| {
                let gc = gc.clone();
                tokio::spawn(async move { gc.submit(i).await })
            })
            .collect();
        for (i, h) in handles.into_iter().enumerate() {
            let got = h.await.unwrap();
            if i == 3 {
                assert!(matches!(got, Err(StoreError::Invalid(_))), "{got:?}");
            } else {
                assert_eq!(got.unwrap(), i as u32);
            }
        }
    }
}

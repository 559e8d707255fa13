//! The command queue of one connection task: bounded, many senders, one receiver, and no
//! memory held while it is empty.
//!
//! Every tunnel and subconnection has one, and almost all of them stay empty for the life of
//! the connection. tokio's `mpsc::channel` allocates its shared state (~0.5 KiB, cache-padded)
//! and a first block of 32 slots when it is created, whatever the capacity: ~0.7 KiB per
//! tunnel and ~2.1 KiB per subconnection in a heap profile of an idle fleet. This queue is one
//! small allocation (~150 bytes); its `VecDeque` is allocated when a command is queued and
//! freed once the receiver has taken the last one.
//!
//! Semantics follow `tokio::sync::mpsc` where the code relies on them: `try_send` fails when
//! full or when the receiver is gone, `send` waits for room, `recv` returns `None` once every
//! sender is dropped and the queue is empty, and dropping the receiver drops what is queued
//! (a waiting API caller's reply channel closes at once).

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Notify, Semaphore, TryAcquireError};

/// A queue of at most `capacity` commands.
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            senders: 1,
            closed: false,
        }),
        ready: Notify::new(),
        space: Semaphore::new(capacity.max(1)),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Wakes the receiver: a command was queued, or the last sender went away.
    ready: Notify,
    /// One permit per free slot; closed when the receiver goes away.
    space: Semaphore,
}

struct State<T> {
    queue: VecDeque<T>,
    senders: usize,
    /// The receiver is gone: nothing more is queued.
    closed: bool,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Why `try_send` did not queue the command (which comes back).
pub enum TrySendError<T> {
    Full(T),
    Closed(T),
}

/// The receiver is gone; the command comes back.
pub struct SendError<T>(pub T);

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySendError::Full(_) => "Full(..)",
            TrySendError::Closed(_) => "Closed(..)",
        })
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

/// The sending side; clone it for each holder.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Queues `value` if there is room and the receiver is alive.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        match self.shared.space.try_acquire() {
            Ok(permit) => {
                permit.forget();
                self.push(value).map_err(TrySendError::Closed)
            }
            Err(TryAcquireError::NoPermits) => Err(TrySendError::Full(value)),
            Err(TryAcquireError::Closed) => Err(TrySendError::Closed(value)),
        }
    }

    /// Waits for room, then queues `value`; fails if the receiver goes away.
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        match self.shared.space.acquire().await {
            Ok(permit) => {
                permit.forget();
                self.push(value).map_err(SendError)
            }
            Err(_) => Err(SendError(value)),
        }
    }

    fn push(&self, value: T) -> Result<(), T> {
        let mut state = self.shared.lock();
        if state.closed {
            return Err(value);
        }
        state.queue.push_back(value);
        drop(state);
        self.shared.ready.notify_one();
        Ok(())
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.senders -= 1;
        let last = state.senders == 0;
        drop(state);
        if last {
            self.shared.ready.notify_one();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("mailbox::Sender")
    }
}

/// The receiving side, owned by the connection task.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Receiver<T> {
    /// The next command, or `None` once every sender is gone and nothing is queued.
    /// Cancel-safe: a command is taken only when it is returned.
    pub async fn recv(&mut self) -> Option<T> {
        loop {
            {
                let mut state = self.shared.lock();
                if let Some(value) = state.queue.pop_front() {
                    if state.queue.is_empty() {
                        // Idle connections hold no queue memory.
                        state.queue = VecDeque::new();
                    }
                    drop(state);
                    self.shared.space.add_permits(1);
                    return Some(value);
                }
                if state.senders == 0 {
                    return None;
                }
            }
            // A notification sent since the check above is kept by `Notify` (one permit), so
            // none is lost between the check and the wait.
            self.shared.ready.notified().await;
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let queued = {
            let mut state = self.shared.lock();
            state.closed = true;
            std::mem::take(&mut state.queue)
        };
        self.shared.space.close();
        drop(queued);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bounded_fifo() {
        let (tx, mut rx) = channel::<u32>(2);
        tx.try_send(1).unwrap();
        tx.try_send(2).unwrap();
        assert!(matches!(tx.try_send(3), Err(TrySendError::Full(3))));
        assert_eq!(rx.recv().await, Some(1));
        tx.try_send(3).unwrap();
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, Some(3));
    }

    #[tokio::test]
    async fn none_once_every_sender_is_gone() {
        let (tx, mut rx) = channel::<u32>(4);
        let tx2 = tx.clone();
        tx.try_send(7).unwrap();
        drop(tx);
        drop(tx2);
        assert_eq!(
            rx.recv().await,
            Some(7),
            "queued commands are still delivered"
        );
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test]
    async fn wakes_a_waiting_receiver() {
        let (tx, mut rx) = channel::<u32>(1);
        let waiter = tokio::spawn(async move { rx.recv().await });
        tokio::task::yield_now().await;
        tx.try_send(5).unwrap();
        assert_eq!(waiter.await.unwrap(), Some(5));
    }

    #[tokio::test]
    async fn send_waits_for_room_and_fails_when_the_receiver_goes() {
        let (tx, mut rx) = channel::<u32>(1);
        tx.try_send(1).unwrap();
        let tx2 = tx.clone();
        let blocked = tokio::spawn(async move { tx2.send(2).await.is_ok() });
        tokio::task::yield_now().await;
        assert_eq!(rx.recv().await, Some(1));
        assert!(blocked.await.unwrap(), "room was made");
        assert_eq!(rx.recv().await, Some(2));

        tx.try_send(3).unwrap();
        let tx3 = tx.clone();
        let blocked = tokio::spawn(async move { tx3.send(4).await.is_err() });
        tokio::task::yield_now().await;
        drop(rx);
        assert!(blocked.await.unwrap(), "the receiver went away");
        assert!(matches!(tx.try_send(5), Err(TrySendError::Closed(5))));
    }

    #[tokio::test]
    async fn dropping_the_receiver_drops_what_is_queued() {
        let (tx, rx) = channel::<tokio::sync::oneshot::Sender<()>>(2);
        let (reply, answer) = tokio::sync::oneshot::channel();
        tx.try_send(reply).unwrap();
        drop(rx);
        assert!(answer.await.is_err(), "the waiter learns at once");
    }
}

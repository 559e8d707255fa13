//! Waiting for a task's outcome: API requests that asked to `wait` park here, and the ACS
//! session driver wakes them when it records a task's result or fault.
//!
//! The store is the truth. A wake-up only says "look again": every waiter re-reads the task
//! after each wake and once more at its deadline, so a lost or early signal can delay an answer
//! but never falsify it. The number of waiters is bounded; past the bound, waiting is refused
//! (the task itself is already stored).
//!
//! Owns: the waiter registry. Must not: write to the store, or hold its lock across an await.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tether_store::{Store, StoreError, Task, TaskId, TaskState};
use tokio::sync::Notify;

/// Why [`TaskHub::wait`] returned without a task.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// Too many requests are waiting already.
    #[error("too many requests are waiting for task results")]
    Busy,
    /// The task does not exist (any more).
    #[error("task {0} not found")]
    NotFound(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether a task has reached a state it leaves only by an operator's action.
pub fn is_settled(state: TaskState) -> bool {
    matches!(
        state,
        TaskState::Done | TaskState::Faulted | TaskState::Expired | TaskState::Cancelled
    )
}

struct Slot {
    notify: Arc<Notify>,
    waiters: usize,
}

/// The waiter registry. Cheap to share behind an `Arc`.
pub struct TaskHub {
    store: Arc<dyn Store>,
    max_waiters: usize,
    slots: Mutex<(HashMap<TaskId, Slot>, usize)>,
}

impl TaskHub {
    pub fn new(store: Arc<dyn Store>, max_waiters: usize) -> Self {
        TaskHub {
            store,
            max_waiters,
            slots: Mutex::new((HashMap::new(), 0)),
        }
    }

    /// Wakes every waiter of `task` to re-read it. Call after the store recorded a change.
    pub fn notify(&self, task: TaskId) {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = slots.0.get(&task) {
            slot.notify.notify_waiters();
        }
    }

    /// How many requests are waiting now.
    pub fn waiting(&self) -> usize {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).1
    }

    /// Waits until `task` is settled or `timeout` passes, then returns the task as stored.
    pub async fn wait(&self, task: TaskId, timeout: Duration) -> Result<Task, WaitError> {
        let notify = self.register(task)?;
        let _guard = Registration { hub: self, task };
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            // Enabled before the read, so a signal sent between the read and the await counts.
            notified.as_mut().enable();
            let current = self.read(task).await?;
            if is_settled(current.state) {
                return Ok(current);
            }
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep_until(deadline) => return self.read(task).await,
            }
        }
    }

    async fn read(&self, task: TaskId) -> Result<Task, WaitError> {
        self.store
            .task(task)
            .await?
            .ok_or(WaitError::NotFound(task.0))
    }

    fn register(&self, task: TaskId) -> Result<Arc<Notify>, WaitError> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if slots.1 >= self.max_waiters {
            return Err(WaitError::Busy);
        }
        slots.1 += 1;
        let slot = slots.0.entry(task).or_insert_with(|| Slot {
            notify: Arc::new(Notify::new()),
            waiters: 0,
        });
        slot.waiters += 1;
        Ok(slot.notify.clone())
    }
}

/// Deregisters a waiter however its future ends (answer, error, or the client going away).
struct Registration<'a> {
    hub: &'a TaskHub,
    task: TaskId,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let mut slots = self.hub.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.1 = slots.1.saturating_sub(1);
        if let Some(slot) = slots.0.get_mut(&self.task) {
            slot.waiters -= 1;
            if slot.waiters == 0 {
                slots.0.remove(&self.task);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tether_store::{DeviceIdentity, NewTask, Timestamp};

    async fn store_with_task() -> (tempfile::TempDir, Arc<dyn Store>, TaskId) {
        let dir = tempfile::tempdir().unwrap();
        let store = tether_store::open(dir.path().join("db").to_str().unwrap())
            .await
            .unwrap();
        let identity = DeviceIdentity {
            id: "000000-HUB".into(),
            oui: "000000".into(),
            product_class: String::new(),
            serial_number: "HUB".into(),
            manufacturer: "m".into(),
        };
        store
            .register_device(&identity, None, None, Timestamp(1))
            .await
            .unwrap();
        let id = store
            .create_task(&NewTask {
                device_id: identity.id,
                kind: "Reboot".into(),
                payload: serde_json::json!({"kind": "Reboot"}),
                expires_at: None,
                created_at: Timestamp(1),
            })
            .await
            .unwrap();
        (dir, store, id)
    }

    #[tokio::test]
    async fn a_notified_waiter_returns_before_its_deadline() {
        let (_dir, store, id) = store_with_task().await;
        let hub = Arc::new(TaskHub::new(store.clone(), 4));
        let waiter = {
            let hub = hub.clone();
            tokio::spawn(async move { hub.wait(id, Duration::from_secs(30)).await })
        };
        while hub.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        store.mark_dispatched(id, "s", Timestamp(2)).await.unwrap();
        store
            .complete_task(
                id,
                &serde_json::value::to_raw_value(&serde_json::json!({"ok": true})).unwrap(),
                Timestamp(3),
            )
            .await
            .unwrap();
        hub.notify(id);
        let started = std::time::Instant::now();
        let task = waiter.await.unwrap().unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(task.state, TaskState::Done);
        assert_eq!(hub.waiting(), 0);
    }

    #[tokio::test]
    async fn timeout_rereads_the_store_and_the_bound_holds() {
        let (_dir, store, id) = store_with_task().await;
        let hub = TaskHub::new(store.clone(), 1);
        // No signal at all: the deadline read still sees the truth.
        store.cancel_task(id, Timestamp(2)).await.unwrap();
        let task = hub.wait(id, Duration::from_millis(10)).await.unwrap();
        assert_eq!(task.state, TaskState::Cancelled);

        let (_dir2, store2, pending) = store_with_task().await;
        let hub = Arc::new(TaskHub::new(store2, 1));
        let first = {
            let hub = hub.clone();
            tokio::spawn(async move { hub.wait(pending, Duration::from_millis(300)).await })
        };
        while hub.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(
            hub.wait(pending, Duration::from_millis(10)).await,
            Err(WaitError::Busy)
        ));
        let task = first.await.unwrap().unwrap();
        assert_eq!(task.state, TaskState::Pending);
        assert!(matches!(
            hub.wait(TaskId(999_999), Duration::from_millis(10)).await,
            Err(WaitError::NotFound(_))
        ));
    }
}

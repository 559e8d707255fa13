//! Devices known to have no pending task, so that the read every CWMP session ends with (the
//! device's next task, almost always none) can be answered without going to the database.
//!
//! The hot path's write thread learns it: inside each transaction that writes an Inform it asks
//! whether the device has a pending task, and remembers the devices that have none, with the
//! *epoch* it read inside that transaction. Every other writer voids what is known by moving
//! the epoch before it writes:
//!
//! * the sqlx writer pool (task creation, dispatch, results, requeues, API changes: every task
//!   write in this process) when it acquires its connection, which it does only while the write
//!   thread is not in a transaction (the two take turns, `WriteTurn`);
//! * any other connection or process, seen by the write thread as a change of
//!   `PRAGMA data_version`, which it checks at the start of each transaction.
//!
//! A hint is used only while the epoch is still the one it was learned under. A task committed
//! before the write thread's transaction is seen by its query; one committed after it moved
//! the epoch first. The one gap is another *process* writing tasks into the database file:
//! that is seen at the write thread's next transaction (milliseconds under load, at the latest
//! the device's next Inform); Tether's own tools go through the server's API.
//!
//! Bounded: at most [`MAX_DEVICES`] devices; past that everything is forgotten at once.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Most devices remembered.
const MAX_DEVICES: usize = 1 << 18;

/// See the module notes.
pub(crate) struct TaskHints {
    epoch: AtomicU64,
    known: Mutex<Known>,
}

struct Known {
    /// The epoch `devices` were learned under.
    epoch: u64,
    devices: HashSet<String>,
}

impl TaskHints {
    pub(crate) fn new() -> Self {
        TaskHints {
            epoch: AtomicU64::new(1),
            known: Mutex::new(Known {
                epoch: 0,
                devices: HashSet::new(),
            }),
        }
    }

    /// Another writer is about to write: nothing known holds any more.
    pub(crate) fn void(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// The current epoch; the write thread reads it inside its transaction, before it asks.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Remembers devices found without a pending task in a transaction that read `epoch`.
    pub(crate) fn remember(&self, epoch: u64, devices: impl IntoIterator<Item = String>) {
        let mut known = self.lock();
        if epoch < known.epoch {
            return;
        }
        if epoch > known.epoch {
            known.devices.clear();
            known.epoch = epoch;
        }
        for device in devices {
            if known.devices.len() >= MAX_DEVICES {
                known.devices.clear();
            }
            known.devices.insert(device);
        }
    }

    /// Whether device `key` is known to have no pending task now.
    pub(crate) fn none_pending(&self, key: &str) -> bool {
        let known = self.lock();
        known.epoch == self.epoch() && known.devices.contains(key)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_found_without_tasks_is_known_until_another_writer_writes() {
        let hints = TaskHints::new();
        assert!(!hints.none_pending("a"));
        hints.remember(hints.epoch(), ["a".to_owned()]);
        assert!(hints.none_pending("a"));
        assert!(!hints.none_pending("b"));
        hints.void();
        assert!(!hints.none_pending("a"));
    }

    #[test]
    fn what_was_learned_before_a_write_is_not_remembered_after_it() {
        let hints = TaskHints::new();
        let before = hints.epoch();
        hints.void();
        // The transaction read its epoch before the other writer moved it.
        hints.remember(before, ["a".to_owned()]);
        assert!(!hints.none_pending("a"));
        // A later transaction's knowledge replaces the older one's.
        hints.remember(hints.epoch(), ["b".to_owned()]);
        hints.remember(before, ["a".to_owned()]);
        assert!(hints.none_pending("b"));
        assert!(!hints.none_pending("a"));
    }
}

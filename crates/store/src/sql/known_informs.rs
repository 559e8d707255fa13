//! What the SQLite hot path's write connection knows about the Inform parameters it stored:
//! per device, a digest of the parameter list of the last Inform it wrote.
//!
//! A periodic Inform mostly repeats the previous one's parameters, and its parameter upsert
//! touches only rows that differ (`rows::ONLY_IF_CHANGED`), so when the list is the same as
//! last time the upsert would change nothing: it can be skipped. That holds only while nothing
//! else wrote to the database since. SQLite's `PRAGMA data_version` changes, as seen by one
//! connection, whenever any *other* connection (or process) commits; the write connection reads
//! it inside each of its write transactions and forgets every digest when it moved. So any
//! write through the sqlx writer (API, tasks, RPC results, a BOOTSTRAP's subtree delete, a
//! device deleted and its id reused) voids what is known, and the next Informs are written in
//! full.
//!
//! Digests are 128 bits of the whole update list, in order: two foldhash hashes with
//! independent random seeds (per process); SipHash, std's keyed hash, stood out in the
//! server's profile (BENCHMARKS.md, "Fifth round"). A collision would need both seeded hashes of two
//! different lists of one device to collide. Bounded: past [`MAX_DEVICES`] entries everything is forgotten at once.

use std::collections::HashMap;
use std::hash::BuildHasher;

use foldhash::quality::RandomState;

use crate::ParameterUpdate;

/// Most devices remembered (about 40 bytes each).
const MAX_DEVICES: usize = 1 << 18;

/// See the module notes.
pub(crate) struct KnownInforms {
    digests: HashMap<i64, u128>,
    /// `PRAGMA data_version` when `digests` was last known to be true.
    data_version: Option<i64>,
    keys: (RandomState, RandomState),
}

impl KnownInforms {
    pub(crate) fn new() -> Self {
        KnownInforms {
            digests: HashMap::new(),
            data_version: None,
            keys: (RandomState::default(), RandomState::default()),
        }
    }

    /// The digest of an Inform's merged parameter list.
    pub(crate) fn digest(&self, parameters: &[ParameterUpdate]) -> u128 {
        let half = |keys: &RandomState| keys.hash_one(parameters);
        (u128::from(half(&self.keys.0)) << 64) | u128::from(half(&self.keys.1))
    }

    /// Called inside each write transaction with the connection's `PRAGMA data_version`: if
    /// another connection committed since the last call, nothing known is true any more.
    /// Returns whether it moved.
    pub(crate) fn observe_version(&mut self, version: i64) -> bool {
        let moved = self.data_version != Some(version);
        if moved {
            self.digests.clear();
            self.data_version = Some(version);
        }
        moved
    }

    /// Whether the device's stored Inform parameters are exactly those of `digest`.
    pub(crate) fn holds(&self, device_pk: i64, digest: u128) -> bool {
        self.digests.get(&device_pk) == Some(&digest)
    }

    /// Records what a committed transaction wrote, in order: per device, the digest of the
    /// Inform parameters it stored, or `None` when it wrote other parameter values (this
    /// connection's own writes do not move `data_version`).
    pub(crate) fn remember(&mut self, written: impl IntoIterator<Item = (i64, Option<u128>)>) {
        for (device_pk, digest) in written {
            let Some(digest) = digest else {
                self.digests.remove(&device_pk);
                continue;
            };
            if self.digests.len() >= MAX_DEVICES && !self.digests.contains_key(&device_pk) {
                self.digests.clear();
            }
            self.digests.insert(device_pk, digest);
        }
    }

    /// Forgets everything (a transaction failed: what it wrote is unknown).
    pub(crate) fn forget(&mut self) {
        self.digests.clear();
        self.data_version = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(value: &str) -> Vec<ParameterUpdate> {
        vec![
            ParameterUpdate::value("Device.A", value, "xsd:string"),
            ParameterUpdate::value("Device.B", "1", "xsd:int"),
        ]
    }

    #[test]
    fn a_repeated_list_is_known_and_a_changed_one_is_not() {
        let mut known = KnownInforms::new();
        let _ = known.observe_version(7);
        let first = known.digest(&list("x"));
        known.remember([(1, Some(first))]);
        assert!(known.holds(1, known.digest(&list("x"))));
        assert!(!known.holds(1, known.digest(&list("y"))));
        assert!(!known.holds(2, first), "another device");
        let mut reordered = list("x");
        reordered.reverse();
        assert!(!known.holds(1, known.digest(&reordered)));
    }

    #[test]
    fn another_connections_commit_forgets_everything() {
        let mut known = KnownInforms::new();
        let _ = known.observe_version(7);
        let d = known.digest(&list("x"));
        known.remember([(1, Some(d))]);
        let _ = known.observe_version(7);
        assert!(known.holds(1, d), "no other commit: still known");
        let _ = known.observe_version(8);
        assert!(!known.holds(1, d));
    }

    #[test]
    fn other_parameters_written_by_this_connection_make_a_device_unknown() {
        let mut known = KnownInforms::new();
        let _ = known.observe_version(7);
        let d = known.digest(&list("x"));
        known.remember([(1, Some(d)), (2, Some(d))]);
        known.remember([(1, None)]);
        assert!(!known.holds(1, d));
        assert!(known.holds(2, d));
    }

    #[test]
    fn a_failed_transaction_forgets_everything() {
        let mut known = KnownInforms::new();
        let _ = known.observe_version(7);
        let d = known.digest(&list("x"));
        known.remember([(1, Some(d))]);
        known.forget();
        let _ = known.observe_version(7);
        assert!(!known.holds(1, d));
    }
}

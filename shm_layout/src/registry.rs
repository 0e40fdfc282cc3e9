//! The process-wide registry of mapped segments, shared between threads with crossbeam-epoch.
//!
//! Every handle to the same segment (same device and inode, same access) in one process shares
//! one mapping: a worker that opens a ring for a reader, a writer and a stats view maps it once.
//! Threads look mappings up on every open without taking a lock: the table is an immutable
//! vector behind an epoch-protected pointer, replaced copy-on-write when a mapping is added, and
//! the old vector is freed only once no thread can still be reading it. Entries hold `Weak`
//! references, so a mapping is unmapped when its last handle drops and its entry is pruned at
//! the next insert. (Epoch reclamation is per process: across processes, slots are reused by
//! index and sequence instead.)

use std::sync::{Arc, Weak};

use crossbeam_epoch::{self as epoch, Atomic, Owned};

use crate::segment::{Access, Mapping};

/// Identity of a mapping: the segment's device and inode, and how it is mapped.
pub(crate) type Key = (u64, u64, Access);

type Table = Vec<(Key, Weak<Mapping>)>;

static TABLE: Atomic<Table> = Atomic::null();

/// The key of the segment behind `st`, mapped with `access`.
pub(crate) fn key(st: &libc::stat, access: Access) -> Key {
    (st.st_dev, st.st_ino, access)
}

/// The live mapping registered under `key`, if any.
pub(crate) fn lookup(key: Key) -> Option<Arc<Mapping>> {
    let guard = epoch::pin();
    let table = TABLE.load(std::sync::atomic::Ordering::Acquire, &guard);
    // SAFETY: the pointer was published by `insert` with release ordering and is destroyed only
    // through `defer_destroy`, after every guard pinned before its replacement is dropped.
    let table = unsafe { table.as_ref() }?;
    table.iter().find(|(k, _)| *k == key).and_then(|(_, weak)| weak.upgrade())
}

/// Registers `mapping` under `key` and returns the registered mapping: `mapping` itself, or the
/// one another thread registered first.
pub(crate) fn insert(key: Key, mapping: Arc<Mapping>) -> Arc<Mapping> {
    let guard = epoch::pin();
    loop {
        let current = TABLE.load(std::sync::atomic::Ordering::Acquire, &guard);
        // SAFETY: as in `lookup`, `current` stays valid while `guard` is pinned.
        let old = unsafe { current.as_ref() };
        let mut next: Table = Vec::new();
        for (k, weak) in old.into_iter().flatten() {
            match weak.upgrade() {
                Some(existing) if *k == key => return existing,
                Some(_) => next.push((*k, weak.clone())),
                None => {}
            }
        }
        next.push((key, Arc::downgrade(&mapping)));
        match TABLE.compare_exchange(
            current,
            Owned::new(next),
            std::sync::atomic::Ordering::AcqRel,
            std::sync::atomic::Ordering::Acquire,
            &guard,
        ) {
            Ok(_) => {
                if !current.is_null() {
                    // SAFETY: `current` is now unreachable from `TABLE`; threads still reading
                    // it hold guards, and the epoch scheme frees it only after they unpin.
                    unsafe { guard.defer_destroy(current) };
                }
                return mapping;
            }
            Err(_) => continue,
        }
    }
}

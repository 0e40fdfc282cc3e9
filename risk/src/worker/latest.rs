//! The latest value of something one thread keeps and others read, shared through
//! crossbeam-epoch: the writer swaps in a new value, readers take the one there without ever
//! blocking it, and an old value is freed only once no reader can still hold it.

use std::sync::atomic::Ordering;

use crossbeam_epoch::{self as epoch, Atomic, Owned};

/// One value, replaced whole by its writer, read by anyone.
#[derive(Debug)]
pub struct Latest<T> {
    value: Atomic<T>,
}

impl<T> Latest<T> {
    /// Holding `value`.
    pub fn new(value: T) -> Self {
        Self { value: Atomic::new(value) }
    }

    /// Replaces the value; the old one is freed once no reader holds it.
    pub fn publish(&self, value: T) {
        let guard = epoch::pin();
        let old = self.value.swap(Owned::new(value), Ordering::AcqRel, &guard);
        // SAFETY: `old` was published by `new` or an earlier `publish` and is unreachable from
        // `value` now; readers that loaded it hold guards pinned before the swap, and the
        // epoch scheme frees it only after every such guard is dropped.
        unsafe { guard.defer_destroy(old) };
    }

    /// What `read` makes of the value there now.
    pub fn read<R>(&self, read: impl FnOnce(&T) -> R) -> R {
        let guard = epoch::pin();
        let shared = self.value.load(Ordering::Acquire, &guard);
        // SAFETY: the pointer is never null (set by `new`, swapped only for another owned
        // value) and stays valid while `guard` is pinned (see `publish`).
        read(unsafe { shared.deref() })
    }
}

impl<T> Drop for Latest<T> {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no reader of this `Latest` remains, so the value can be freed
        // now rather than deferred.
        unsafe { drop(self.value.load(Ordering::Relaxed, epoch::unprotected()).into_owned()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_see_the_last_value_published_while_the_writer_goes_on() {
        let latest = std::sync::Arc::new(Latest::new(0u64));
        let reader = {
            let latest = latest.clone();
            std::thread::spawn(move || {
                let mut seen = 0;
                for _ in 0..10_000 {
                    let now = latest.read(|v| *v);
                    assert!(now >= seen, "values only grow: {now} after {seen}");
                    seen = now;
                }
            })
        };
        for value in 1..=10_000 {
            latest.publish(value);
        }
        reader.join().unwrap();
        assert_eq!(latest.read(|v| *v), 10_000);
    }
}

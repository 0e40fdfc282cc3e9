//! Model checks of the protocol cores: every interleaving (within loom's preemption bound) of
//! a writer and a reader on a tiny ring, queue or seqlock slot.
//!
//! Run with `make test-loom` (`RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=4 cargo test -p shm_layout
//! --lib --release`): a few seconds. One more message or preemption takes minutes.
//! Messages are two words, `seq` and `!seq`, so a torn copy cannot go unnoticed.

use loom::sync::Arc;
use loom::thread;

use crate::ring::Ring;
use crate::seqlock::{self, SeqRead};
use crate::sync::{AtomicU64, Ordering};
use crate::Received;

const MSG: usize = 16;
const SLOT_WORDS: usize = 2 + MSG / 8;

fn message(seq: u64) -> [u8; MSG] {
    let mut bytes = [0u8; MSG];
    bytes[..8].copy_from_slice(&seq.to_le_bytes());
    bytes[8..].copy_from_slice(&(!seq).to_le_bytes());
    bytes
}

fn decode(bytes: &[u8]) -> (u64, u64) {
    let word = |i: usize| u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap());
    (word(0), word(1))
}

struct Shared {
    data: Vec<AtomicU64>,
    write_seq: AtomicU64,
    read_cursor: AtomicU64,
}

fn shared(capacity: u64) -> Arc<Shared> {
    Arc::new(Shared {
        data: (0..capacity as usize * SLOT_WORDS).map(|_| AtomicU64::new(0)).collect(),
        write_seq: AtomicU64::new(0),
        read_cursor: AtomicU64::new(0),
    })
}

fn ring(s: &Shared, capacity: u64) -> Ring<'_> {
    Ring::new(&s.data, SLOT_WORDS, capacity, MSG)
}

#[test]
fn broadcast_readers_never_see_torn_messages_and_account_for_every_lap() {
    const CAPACITY: u64 = 2;
    const MESSAGES: u64 = 3;
    loom::model(|| {
        let s = shared(CAPACITY);
        let writer = {
            let s = Arc::clone(&s);
            thread::spawn(move || {
                let ring = ring(&s, CAPACITY);
                for seq in 0..MESSAGES {
                    ring.write(seq, &message(seq));
                    s.write_seq.store(seq + 1, Ordering::SeqCst);
                }
            })
        };
        let ring = ring(&s, CAPACITY);
        let (mut cursor, mut out) = (0u64, [0u8; MSG]);
        let (mut seen, mut lost, mut last) = (0u64, 0u64, None);
        for _ in 0..6 {
            match ring.read_next(&s.write_seq, &mut cursor, &mut out) {
                Received::Message { seq, len } => {
                    assert_eq!(len, MSG);
                    assert_eq!(decode(&out), (seq, !seq), "torn message {seq}");
                    assert!(last.is_none_or(|l| seq > l), "message {seq} out of order");
                    last = Some(seq);
                    seen += 1;
                }
                Received::Lost { count } => lost += count,
                Received::Empty => thread::yield_now(),
            }
        }
        writer.join().unwrap();
        assert_eq!(seen + lost, cursor, "every sequence before the cursor is read or counted lost");
        assert!(cursor <= MESSAGES);
    });
}

#[test]
fn a_slot_left_half_written_by_a_dead_writer_is_never_read_and_its_successor_rewrites_it() {
    const CAPACITY: u64 = 2;
    loom::model(|| {
        let s = shared(CAPACITY);
        // The dead writer: it marked slot 0 as being written with message 0 and stored half of
        // a payload before it died (its own `write` never finished, so nothing was committed).
        {
            let ring = ring(&s, CAPACITY);
            let slot = &s.data[..SLOT_WORDS];
            slot[0].store(crate::ring::writing_stamp(0), Ordering::Relaxed);
            slot[1].store(MSG as u64, Ordering::Relaxed);
            slot[2].store(u64::MAX, Ordering::Relaxed);
            assert!(!ring.is_published(0), "a successor must rewrite the slot");
        }
        let successor = {
            let s = Arc::clone(&s);
            thread::spawn(move || {
                let ring = ring(&s, CAPACITY);
                for seq in 0..2 {
                    ring.write(seq, &message(seq));
                    s.write_seq.store(seq + 1, Ordering::SeqCst);
                }
            })
        };
        let ring = ring(&s, CAPACITY);
        let (mut cursor, mut out) = (0u64, [0u8; MSG]);
        for _ in 0..4 {
            if let Received::Message { seq, .. } = ring.read_next(&s.write_seq, &mut cursor, &mut out) {
                assert_eq!(decode(&out), (seq, !seq), "message {seq} was torn or the dead writer's");
            } else {
                thread::yield_now();
            }
        }
        successor.join().unwrap();
    });
}

#[test]
fn a_queue_delivers_every_message_once_in_order() {
    const CAPACITY: u64 = 2;
    const MESSAGES: u64 = 3;
    loom::model(|| {
        let s = shared(CAPACITY);
        let writer = {
            let s = Arc::clone(&s);
            thread::spawn(move || {
                let ring = ring(&s, CAPACITY);
                let mut cached_read = 0;
                for seq in 0..MESSAGES {
                    while !ring.try_push(seq, &s.read_cursor, &mut cached_read, &message(seq)) {
                        thread::yield_now();
                    }
                    s.write_seq.store(seq + 1, Ordering::SeqCst);
                }
            })
        };
        let ring = ring(&s, CAPACITY);
        let mut out = [0u8; MSG];
        let mut cursor = 0;
        while cursor < MESSAGES {
            match ring.read(cursor, &mut out) {
                crate::ring::SlotRead::Ready(_) => {
                    assert_eq!(decode(&out), (cursor, !cursor));
                    cursor += 1;
                    s.read_cursor.store(cursor, Ordering::SeqCst);
                }
                crate::ring::SlotRead::NotYet => thread::yield_now(),
                crate::ring::SlotRead::Overwritten => {
                    panic!("the queue writer overwrote message {cursor}")
                }
            }
        }
        writer.join().unwrap();
    });
}

#[test]
fn seqlock_readers_get_a_consistent_copy_or_retry() {
    loom::model(|| {
        let slot: Arc<Vec<AtomicU64>> = Arc::new((0..3).map(|_| AtomicU64::new(0)).collect());
        let writer = {
            let slot = Arc::clone(&slot);
            thread::spawn(move || {
                for value in 1..=2u64 {
                    seqlock::write(&slot, &message(value));
                }
            })
        };
        let mut out = [0u8; MSG];
        let mut last_version = 0;
        for _ in 0..2 {
            match seqlock::read(&slot, &mut out, 2) {
                SeqRead::Stable { version, .. } => {
                    let (value, check) = decode(&out);
                    assert_eq!(check, !value, "torn record at version {version}");
                    assert_eq!(version, 2 * value, "record {value} under version {version}");
                    assert!(version >= last_version, "versions never go back");
                    last_version = version;
                }
                SeqRead::Empty | SeqRead::Contended { .. } => {}
            }
        }
        writer.join().unwrap();
    });
}

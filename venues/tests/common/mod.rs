//! What the venue tests share: a network that loses, duplicates and delays.

use proptest::prelude::*;

/// What the network does to one packet or message.
#[derive(Debug, Clone, Copy)]
pub enum Fate {
    /// It arrives.
    Deliver,
    /// It is lost.
    Drop,
    /// It arrives twice.
    Duplicate,
    /// It arrives after the next one.
    Delay,
}

/// Mostly deliveries, with drops, duplicates and delays.
pub fn fate() -> impl Strategy<Value = Fate> {
    prop_oneof![12 => Just(Fate::Deliver), 2 => Just(Fate::Drop), 1 => Just(Fate::Duplicate), 1 => Just(Fate::Delay)]
}

//! Venue C's market data: the engine's book as JSON depth snapshots and incremental updates.
//!
//! After a batch of actions the publisher compares the engine's levels with those it last
//! published and sends the changed ones with their new absolute quantities (0 for a level that
//! went), under the next update id. A snapshot is the whole book and the last update id it
//! includes. Engine prices are ticks of 1/10,000 and quantities are shares; the JSON carries
//! both as decimals (units of 1e-9 once parsed).

use std::collections::BTreeMap;

use protocols::depth_json::{DepthMessage, Level};

use crate::matching::{Engine, Side};

/// Engine price ticks (1/10,000) to units of 1e-9.
pub(crate) const PRICE_TO_NANOS: i64 = 100_000;
/// Shares to units of 1e-9.
pub(crate) const SHARES_TO_NANOS: i64 = 1_000_000_000;

fn to_level((price, quantity): (i64, u64)) -> Level {
    (price * PRICE_TO_NANOS, quantity as i64 * SHARES_TO_NANOS)
}

/// Publishes one symbol's depth.
#[derive(Debug, Clone)]
pub struct DepthPublisher {
    symbol: String,
    last_update_id: u64,
    published: [BTreeMap<i64, u64>; 2],
}

impl DepthPublisher {
    /// A publisher of `symbol` whose first update will be id 1.
    pub fn new(symbol: &str) -> Self {
        Self { symbol: symbol.to_owned(), last_update_id: 0, published: [BTreeMap::new(), BTreeMap::new()] }
    }

    /// The id of the last update published.
    pub fn last_update_id(&self) -> u64 {
        self.last_update_id
    }

    fn changes(&mut self, engine: &Engine, side: Side) -> Vec<Level> {
        let published = &mut self.published[side as usize];
        let now: BTreeMap<i64, u64> = engine.levels(side).into_iter().collect();
        let mut changes: Vec<Level> = published
            .keys()
            .filter(|price| !now.contains_key(price))
            .map(|&price| to_level((price, 0)))
            .collect();
        changes
            .extend(now.iter().filter(|(p, q)| published.get(p) != Some(q)).map(|(&p, &q)| to_level((p, q))));
        *published = now;
        changes
    }

    /// The update that brings a subscriber from the last publication to `engine`'s book, or
    /// `None` if nothing changed.
    pub fn update(&mut self, engine: &Engine, event_time_ms: u64) -> Option<DepthMessage> {
        let bids = self.changes(engine, Side::Buy);
        let asks = self.changes(engine, Side::Sell);
        if bids.is_empty() && asks.is_empty() {
            return None;
        }
        self.last_update_id += 1;
        Some(DepthMessage::Update {
            symbol: self.symbol.clone(),
            event_time_ms,
            first_update_id: self.last_update_id,
            last_update_id: self.last_update_id,
            bids,
            asks,
        })
    }

    /// The book as last published, as a snapshot.
    pub fn snapshot(&self) -> DepthMessage {
        let side = |s: Side| -> Vec<Level> {
            let levels = self.published[s as usize].iter().map(|(&p, &q)| to_level((p, q)));
            match s {
                Side::Buy => levels.rev().collect(),
                Side::Sell => levels.collect(),
            }
        };
        DepthMessage::Snapshot {
            symbol: self.symbol.clone(),
            last_update_id: self.last_update_id,
            bids: side(Side::Buy),
            asks: side(Side::Sell),
        }
    }
}

//! The built-in market maker: a fair value from the venues' books, two-sided quotes around it
//! on every venue (a spread, a size, a number of levels), skewed against our inventory,
//! replaced only when the fair value has moved more than a tolerance; and taking cross-venue
//! arbitrage when one venue's bid is above another's ask by more than fees and a margin.
//!
//! The strategy decides; the execution loop acts: [`MarketMaker::on_book`] writes
//! [`Action`]s into a buffer the caller reuses (no allocation once it has grown), each new
//! order with an id from the caller's counter. The loop sends each through the gate and the
//! gateway, and tells the strategy which quotes are gone ([`MarketMaker::order_done`]).

use risk::{NewOrder, Side};

/// Basis points in one.
const BPS: i128 = 10_000;

/// One venue's best prices for a symbol, as the strategy sees them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Top {
    /// Best bid (0 if none), units of 1e-9.
    pub bid: i64,
    /// Its quantity.
    pub bid_quantity: i64,
    /// Best ask (0 if none).
    pub ask: i64,
    /// Its quantity.
    pub ask_quantity: i64,
    /// Whether the book may be traded on (fresh, not stale, the symbol listed there).
    pub usable: bool,
}

impl Top {
    fn mid(&self) -> Option<i64> {
        (self.usable && self.bid > 0 && self.ask > self.bid).then(|| (self.bid + self.ask) / 2)
    }
}

/// How the market maker quotes and takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketMakerConfig {
    /// The symbol's tick, units of 1e-9.
    pub tick: i64,
    /// The symbol's lot, units of 1e-9.
    pub lot: i64,
    /// Distance of the first level from the fair value, in ticks.
    pub half_spread_ticks: i64,
    /// Distance between levels, in ticks.
    pub level_spacing_ticks: i64,
    /// Levels quoted on each side of each venue.
    pub levels: usize,
    /// Quantity of each quote, units of 1e-9.
    pub size: i64,
    /// Ticks the quotes move against each lot of inventory.
    pub skew_ticks_per_lot: i64,
    /// A quote is replaced once its price is this many ticks from its target.
    pub tolerance_ticks: i64,
    /// Fees of one trade, in basis points of its notional (charged on both legs of an
    /// arbitrage).
    pub fee_bps: i64,
    /// What an arbitrage must earn beyond its fees, in ticks.
    pub arbitrage_margin_ticks: i64,
    /// Largest quantity of one arbitrage, units of 1e-9.
    pub arbitrage_size: i64,
    /// Which venues have no replace (a quote there is cancelled and placed anew).
    pub no_replace: [bool; MAX_VENUES],
    /// The largest position the maker quotes towards, across venues (a side whose fill would
    /// take the position past it is not quoted), units of 1e-9.
    pub max_position: i64,
    /// The same on each venue.
    pub max_venue_position: i64,
}

/// The most venues a market maker quotes on.
pub const MAX_VENUES: usize = 3;
/// The most levels a side.
pub const MAX_LEVELS: usize = 8;

/// What the strategy wants done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send a new order (a quote, or a leg of an arbitrage).
    New(NewOrder),
    /// Replace quote `original` by `order` (a new id, price and quantity).
    Replace {
        /// The working quote's id.
        original: u64,
        /// What it becomes.
        order: NewOrder,
    },
    /// Take an arbitrage: both legs, judged together (neither goes out unless both pass).
    Arbitrage {
        /// The leg that buys where the ask is low.
        buy: NewOrder,
        /// The leg that sells where the bid is high.
        sell: NewOrder,
    },
    /// Cancel order `id` (on `venue`).
    Cancel {
        /// The order's id.
        id: u64,
        /// Its venue.
        venue: usize,
    },
}

/// A working quote: its id and price, and whether the venue has accepted it (a quote not yet
/// accepted is neither moved nor pulled: there is nothing at the venue to act on yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Quote {
    id: u64,
    price: i64,
    live: bool,
}

/// The market maker for one symbol.
#[derive(Debug, Clone)]
pub struct MarketMaker {
    config: MarketMakerConfig,
    instrument: u32,
    venues: usize,
    /// `[venue][side][level]`: the quote working there, if any.
    quotes: [[[Option<Quote>; MAX_LEVELS]; 2]; MAX_VENUES],
    /// The fair value last quoted around.
    last_fair: Option<i64>,
    /// The legs of the arbitrage under way: no other is taken until both are done.
    legs: [Option<u64>; 2],
}

fn side_index(side: Side) -> usize {
    match side {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

impl MarketMaker {
    /// A market maker for `instrument` on `venues` venues (at most [`MAX_VENUES`]), quoting
    /// at most [`MAX_LEVELS`] levels.
    pub fn new(instrument: u32, venues: usize, config: MarketMakerConfig) -> Self {
        assert!(venues <= MAX_VENUES && config.levels <= MAX_LEVELS, "a market maker's tables are fixed");
        assert!(config.tick > 0 && config.lot > 0, "tick and lot are positive");
        Self {
            config,
            instrument,
            venues,
            quotes: [[[None; MAX_LEVELS]; 2]; MAX_VENUES],
            last_fair: None,
            legs: [None; 2],
        }
    }

    /// The fair value: the mean of the usable venues' mids.
    pub fn fair_value(&self, tops: &[Top]) -> Option<i64> {
        let (sum, count) =
            tops.iter().filter_map(Top::mid).fold((0i64, 0i64), |(s, n), mid| (s + mid, n + 1));
        (count > 0).then(|| sum / count)
    }

    /// The target price of `level` on `side`, with `position` held: the fair value less (for
    /// bids) or plus (asks) the spread and the level's spacing, moved against the inventory,
    /// on the tick (bids down, asks up), and never crossing the venue's other side.
    pub fn target(&self, fair: i64, position: i64, side: Side, level: usize, top: &Top) -> i64 {
        let c = &self.config;
        let skew = position / c.lot * c.skew_ticks_per_lot * c.tick;
        let center = fair - skew;
        let offset = (c.half_spread_ticks + level as i64 * c.level_spacing_ticks) * c.tick;
        match side {
            Side::Buy => {
                let bid = (center - offset).div_euclid(c.tick) * c.tick;
                if top.ask > 0 {
                    bid.min(top.ask - c.tick)
                } else {
                    bid
                }
            }
            Side::Sell => {
                let ask = -((-(center + offset)).div_euclid(c.tick) * c.tick);
                if top.bid > 0 {
                    ask.max(top.bid + c.tick)
                } else {
                    ask
                }
            }
        }
    }

    /// Whether an order on `side` of `quantity` fits the position limits, with `position` held
    /// in all and `venue_position` on its venue (the gate would refuse it otherwise).
    fn fits(&self, side: Side, quantity: i64, position: i64, venue_position: i64) -> bool {
        let c = &self.config;
        let after = |held: i64| held + side.sign() * quantity;
        after(position).abs() <= c.max_position && after(venue_position).abs() <= c.max_venue_position
    }

    /// Reacts to a change of any venue's book: quotes placed, moved or pulled, and arbitrage
    /// taken, written to `actions`; new ids come from `next_id`. `position` is held in all,
    /// `venue_positions` on each venue. A venue is quoted only while its book is two-sided,
    /// and a side only while its fill would keep the positions within the limits.
    pub fn on_book(
        &mut self,
        tops: &[Top],
        position: i64,
        venue_positions: &[i64],
        next_id: &mut u64,
        actions: &mut Vec<Action>,
    ) {
        self.take_arbitrage(tops, position, venue_positions, next_id, actions);
        let fair = self.fair_value(tops);
        // The side moving away from the other moves first, so a quote never meets our own
        // quote on the other side that has not moved yet.
        let rising = matches!((fair, self.last_fair), (Some(now), Some(before)) if now > before);
        let sides = if rising { [Side::Sell, Side::Buy] } else { [Side::Buy, Side::Sell] };
        self.last_fair = fair.or(self.last_fair);
        for (venue, top) in tops.iter().enumerate().take(self.venues) {
            for side in sides {
                for level in 0..MAX_LEVELS {
                    let slot = self.quotes[venue][side_index(side)][level];
                    let venue_position = venue_positions.get(venue).copied().unwrap_or(0);
                    let target = match fair {
                        Some(fair)
                            if top.mid().is_some()
                                && level < self.config.levels
                                && self.fits(side, self.config.size, position, venue_position) =>
                        {
                            Some(self.target(fair, position, side, level, top))
                        }
                        _ => None,
                    };
                    self.requote(venue, side, level, slot, target, next_id, actions);
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments, reason = "one quote slot's coordinates")]
    fn requote(
        &mut self,
        venue: usize,
        side: Side,
        level: usize,
        slot: Option<Quote>,
        target: Option<i64>,
        next_id: &mut u64,
        actions: &mut Vec<Action>,
    ) {
        let tolerance = self.config.tolerance_ticks * self.config.tick;
        let order = |id: u64, price: i64| NewOrder {
            id,
            venue,
            instrument: self.instrument,
            side,
            price,
            quantity: self.config.size,
        };
        let placed = match (slot, target) {
            (None, None) => return,
            (Some(quote), _) if !quote.live => return,
            (Some(quote), None) => {
                actions.push(Action::Cancel { id: quote.id, venue });
                None
            }
            (Some(quote), Some(price)) if (price - quote.price).abs() < tolerance.max(1) => return,
            (Some(quote), Some(price)) => {
                *next_id += 1;
                if self.config.no_replace[venue] {
                    actions.push(Action::Cancel { id: quote.id, venue });
                    actions.push(Action::New(order(*next_id, price)));
                } else {
                    actions.push(Action::Replace { original: quote.id, order: order(*next_id, price) });
                }
                // Live again once the venue has done the replace (or accepted the new order).
                Some(Quote { id: *next_id, price, live: false })
            }
            (None, Some(price)) => {
                *next_id += 1;
                actions.push(Action::New(order(*next_id, price)));
                Some(Quote { id: *next_id, price, live: false })
            }
        };
        self.quotes[venue][side_index(side)][level] = placed;
    }

    /// Buys where a venue's ask is below another's bid by more than fees and the margin, and
    /// sells there: the widest such arbitrage, one at a time, and only if both legs fit the
    /// position limits.
    fn take_arbitrage(
        &mut self,
        tops: &[Top],
        position: i64,
        venue_positions: &[i64],
        next_id: &mut u64,
        actions: &mut Vec<Action>,
    ) {
        if self.legs.iter().any(Option::is_some) {
            return;
        }
        let c = &self.config;
        let mut best: Option<(i64, usize, usize)> = None;
        for (buy_at, low) in tops.iter().enumerate().filter(|(_, t)| t.usable && t.ask > 0) {
            for (sell_at, high) in tops.iter().enumerate().filter(|(_, t)| t.usable && t.bid > 0) {
                let edge = high.bid - low.ask;
                let fees = i128::from(c.fee_bps) * (i128::from(high.bid) + i128::from(low.ask)) / BPS;
                let needed = fees as i64 + c.arbitrage_margin_ticks * c.tick;
                if buy_at != sell_at && edge > needed && best.map_or(true, |(e, ..)| edge > e) {
                    best = Some((edge, buy_at, sell_at));
                }
            }
        }
        let Some((_, buy_at, sell_at)) = best else { return };
        let available = tops[buy_at].ask_quantity.min(tops[sell_at].bid_quantity).min(c.arbitrage_size);
        let quantity = available / c.lot * c.lot;
        let held = |venue: usize| venue_positions.get(venue).copied().unwrap_or(0);
        if quantity <= 0
            || !self.fits(Side::Buy, quantity, position, held(buy_at))
            || !self.fits(Side::Sell, quantity, position, held(sell_at))
        {
            return;
        }
        let mut leg = |at: usize, venue: usize, side: Side, price: i64| {
            *next_id += 1;
            self.legs[at] = Some(*next_id);
            NewOrder { id: *next_id, venue, instrument: self.instrument, side, price, quantity }
        };
        let buy = leg(0, buy_at, Side::Buy, tops[buy_at].ask);
        let sell = leg(1, sell_at, Side::Sell, tops[sell_at].bid);
        actions.push(Action::Arbitrage { buy, sell });
    }

    /// The venue accepted order `id` (or replaced a quote by it): its quote may now be moved
    /// or pulled.
    pub fn order_live(&mut self, id: u64) {
        for quote in self.quotes.iter_mut().flatten().flatten().flatten() {
            if quote.id == id {
                quote.live = true;
            }
        }
    }

    /// Order `id` is no longer working (filled, cancelled, rejected): its quote slot (or its
    /// arbitrage leg) is free.
    pub fn order_done(&mut self, id: u64) {
        for leg in &mut self.legs {
            if *leg == Some(id) {
                *leg = None;
            }
        }
        for slot in self.quotes.iter_mut().flatten().flatten() {
            if slot.is_some_and(|q| q.id == id) {
                *slot = None;
            }
        }
    }

    /// The ids of every quote working.
    pub fn working(&self) -> impl Iterator<Item = u64> + '_ {
        self.quotes.iter().flatten().flatten().filter_map(|q| q.map(|q| q.id))
    }
}

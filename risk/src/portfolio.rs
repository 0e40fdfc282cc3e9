//! Portfolio risk: positions, P&L marked to the books, exposure and open orders per symbol and
//! venue, from the execution worker's reports and the venues' books, as the risk worker keeps
//! them for a group of symbols.
//!
//! The rules, which the reference implementation (`risk.reference.portfolio`) states too:
//!
//! * A fill moves the venue's [`Position`](crate::positions::Position) (average cost; a sale past flat opens the other
//!   way at the fill's price).
//! * An order is open while its last report leaves quantity open and its state is a working
//!   one; a replace done carries it on under the replacement's id. It is valued at its limit
//!   price (a fill's price is the trade's: what is left keeps the price the order had).
//! * A symbol's mark is the mean (rounded down) of the mids of the venues whose book has both
//!   sides; every venue's position in it is marked there. A symbol with no mark has no
//!   unrealized P&L.
//! * A symbol's P&L is the sum over venues of realized plus unrealized; its exposure is the
//!   notional of its position across venues at the mark (net signed, and its size); its
//!   open-order exposure is the notional of its open orders at their limit prices, per side.
//! * A symbol's peak is the highest P&L it has had today (from zero), taken after every report
//!   and every mark; its drawdown is the peak less the P&L.

use std::collections::HashMap;

use shm_layout::records::{order_state, report_kind, side, ExecutionReportRecord};

use crate::order::{notional, Side};
use crate::positions::Positions;

/// What the portfolio reads of an execution report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportFacts {
    /// The instrument's id.
    pub instrument: u32,
    /// The venue's index.
    pub venue: usize,
    /// The order's side.
    pub side: Side,
    /// One of `report_kind`'s codes.
    pub kind: u8,
    /// The order's state after the report: one of `order_state`'s codes.
    pub state: u8,
    /// The order's client order id.
    pub order_id: u64,
    /// For a replace done, the replacement's id; 0 otherwise.
    pub replacement_id: u64,
    /// The fill's price, or the order's limit price; units of 1e-9.
    pub price: i64,
    /// The fill's quantity, or the order's; units of 1e-9.
    pub quantity: i64,
    /// What is left open of the order after it; units of 1e-9.
    pub leaves: i64,
}

impl ReportFacts {
    /// The facts of a record from the execution worker's queue.
    pub fn from_record(record: &ExecutionReportRecord) -> Self {
        Self {
            instrument: record.instrument_id,
            venue: usize::from(record.venue),
            side: if record.side == side::ASK { Side::Sell } else { Side::Buy },
            kind: record.kind,
            state: record.state,
            order_id: record.order_id,
            replacement_id: record.replacement_id,
            price: record.price,
            quantity: record.quantity,
            leaves: record.leaves,
        }
    }

    /// Whether the order (or its replacement) is still open after the report.
    fn leaves_open(&self) -> bool {
        let working = matches!(
            self.state,
            order_state::PENDING_NEW
                | order_state::NEW
                | order_state::PARTIALLY_FILLED
                | order_state::PENDING_CANCEL
                | order_state::PENDING_REPLACE
        );
        self.leaves > 0 && (working || self.kind == report_kind::REPLACED)
    }
}

/// A report or a book about what the portfolio does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PortfolioError {
    /// The instrument is not one of the portfolio's symbols.
    #[error("instrument {0} is not in this portfolio")]
    UnknownInstrument(u32),
    /// The venue is not one of the portfolio's.
    #[error("venue {0} is not in this portfolio")]
    UnknownVenue(usize),
}

/// One of our orders working at a venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OpenOrder {
    symbol: usize,
    side: Side,
    price: i64,
    leaves: i64,
}

/// One symbol's risk figures, across venues; currency in units of 1e-9.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SymbolRisk {
    /// The instrument's id.
    pub instrument: u32,
    /// Position across venues, units of 1e-9.
    pub position: i64,
    /// The mark price, units of 1e-9 (0: no book has both sides yet).
    pub mark: i64,
    /// Realized P&L.
    pub realized: i128,
    /// Unrealized P&L at the mark.
    pub unrealized: i128,
    /// Realized plus unrealized.
    pub pnl: i128,
    /// The day's highest P&L (from zero).
    pub peak: i128,
    /// The peak less the P&L.
    pub drawdown: i128,
    /// The position's notional at the mark, signed.
    pub net: i128,
    /// Its size.
    pub exposure: i128,
    /// Notional of open buy orders at their limit prices.
    pub open_buy: i128,
    /// Notional of open sell orders at their limit prices.
    pub open_sell: i128,
}

/// The sums over a portfolio's symbols.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Realized plus unrealized P&L.
    pub pnl: i128,
    /// The sum of the symbols' exposures (gross).
    pub gross: i128,
    /// The sum of the symbols' signed notionals (net, signed).
    pub net: i128,
    /// Notional of every open order.
    pub open: i128,
}

impl Totals {
    fn add(&mut self, symbol: &SymbolRisk, sign: i128) {
        self.pnl += sign * symbol.pnl;
        self.gross += sign * symbol.exposure;
        self.net += sign * symbol.net;
        self.open += sign * (symbol.open_buy + symbol.open_sell);
    }
}

/// The risk of a group of symbols on a set of venues.
#[derive(Debug, Clone)]
pub struct Portfolio {
    venues: usize,
    /// Symbol index by instrument id.
    index: HashMap<u32, usize>,
    positions: Positions,
    /// Each venue's mid per symbol (`symbol * venues + venue`), 0 while it has none.
    mids: Vec<i64>,
    open: HashMap<u64, OpenOrder>,
    /// Open notional per symbol, buy and sell.
    open_notional: Vec<[i128; 2]>,
    symbols: Vec<SymbolRisk>,
    totals: Totals,
}

impl Portfolio {
    /// Flat, for `instruments` on `venues` venues, with room for `open_orders` open orders
    /// before its table grows.
    pub fn new(instruments: &[u32], venues: usize, open_orders: usize) -> Self {
        Self {
            venues,
            index: instruments.iter().enumerate().map(|(at, &i)| (i, at)).collect(),
            positions: Positions::new(instruments.len(), venues),
            mids: vec![0; instruments.len() * venues],
            open: HashMap::with_capacity(open_orders),
            open_notional: vec![[0; 2]; instruments.len()],
            symbols: instruments
                .iter()
                .map(|&instrument| SymbolRisk { instrument, ..SymbolRisk::default() })
                .collect(),
            totals: Totals::default(),
        }
    }

    fn symbol_of(&self, instrument: u32, venue: usize) -> Result<usize, PortfolioError> {
        if venue >= self.venues {
            return Err(PortfolioError::UnknownVenue(venue));
        }
        self.index.get(&instrument).copied().ok_or(PortfolioError::UnknownInstrument(instrument))
    }

    /// Applies one report; the symbol's figures after it.
    pub fn apply(&mut self, report: &ReportFacts) -> Result<&SymbolRisk, PortfolioError> {
        let symbol = self.symbol_of(report.instrument, report.venue)?;
        if report.kind == report_kind::FILL {
            self.positions.fill(symbol, report.venue, report.side, report.quantity, report.price);
        }
        let gone = self.open.remove(&report.order_id);
        if let Some(gone) = gone {
            self.open_notional[gone.symbol][side_index(gone.side)] -= notional(gone.price, gone.leaves);
        }
        if report.leaves_open() {
            let id =
                if report.kind == report_kind::REPLACED { report.replacement_id } else { report.order_id };
            // A fill's price is the trade's: what is left works on at the order's limit price.
            let price = match gone {
                Some(order) if report.kind == report_kind::FILL => order.price,
                _ => report.price,
            };
            let order = OpenOrder { symbol, side: report.side, price, leaves: report.leaves };
            self.open_notional[symbol][side_index(order.side)] += notional(order.price, order.leaves);
            if let Some(was) = self.open.insert(id, order) {
                self.open_notional[was.symbol][side_index(was.side)] -= notional(was.price, was.leaves);
            }
        }
        Ok(self.refresh(symbol))
    }

    /// Sets `venue`'s book for `instrument` to `bid` / `ask` (0 for a side with no order); the
    /// symbol's figures after it. A book without both sides leaves the venue's mid as it was.
    pub fn mark(
        &mut self,
        instrument: u32,
        venue: usize,
        bid: i64,
        ask: i64,
    ) -> Result<&SymbolRisk, PortfolioError> {
        let symbol = self.symbol_of(instrument, venue)?;
        if bid > 0 && ask > 0 {
            self.mids[symbol * self.venues + venue] = (bid + ask) / 2;
        }
        Ok(self.refresh(symbol))
    }

    /// Works out `symbol`'s figures again, and the totals with them.
    fn refresh(&mut self, symbol: usize) -> &SymbolRisk {
        let mids = &self.mids[symbol * self.venues..(symbol + 1) * self.venues];
        let (sum, count) =
            mids.iter().filter(|&&m| m > 0).fold((0i128, 0i128), |(s, c), &m| (s + i128::from(m), c + 1));
        let mark = if count == 0 { 0 } else { (sum / count) as i64 };
        let (mut position, mut realized, mut unrealized) = (0i64, 0i128, 0i128);
        for venue in 0..self.venues {
            let held = self.positions.venue(symbol, venue);
            position += held.quantity;
            realized += held.realized;
            if mark > 0 {
                unrealized += held.unrealized(mark);
            }
        }
        let before = self.symbols[symbol];
        let pnl = realized + unrealized;
        let peak = before.peak.max(pnl);
        let net = notional(mark, position);
        let [open_buy, open_sell] = self.open_notional[symbol];
        let after = SymbolRisk {
            instrument: before.instrument,
            position,
            mark,
            realized,
            unrealized,
            pnl,
            peak,
            drawdown: peak - pnl,
            net,
            exposure: net.abs(),
            open_buy,
            open_sell,
        };
        self.totals.add(&before, -1);
        self.totals.add(&after, 1);
        self.symbols[symbol] = after;
        &self.symbols[symbol]
    }

    /// Every symbol's figures, in the order the portfolio was built with.
    pub fn symbols(&self) -> &[SymbolRisk] {
        &self.symbols
    }

    /// The figures of `instrument`, if it is the portfolio's.
    pub fn symbol(&self, instrument: u32) -> Option<&SymbolRisk> {
        self.index.get(&instrument).map(|&at| &self.symbols[at])
    }

    /// The position, average price and realized P&L of `instrument` on `venue`.
    pub fn venue_position(&self, instrument: u32, venue: usize) -> Option<crate::positions::Position> {
        self.symbol_of(instrument, venue).ok().map(|symbol| self.positions.venue(symbol, venue))
    }

    /// The sums over the symbols.
    pub fn totals(&self) -> Totals {
        self.totals
    }

    /// How many of our orders are open.
    pub fn open_orders(&self) -> usize {
        self.open.len()
    }
}

fn side_index(side: Side) -> usize {
    match side {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

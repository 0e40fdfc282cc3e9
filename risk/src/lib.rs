//! Risk: the pre-trade gate every new and replace order passes, inline, on the execution
//! worker's hot path, and the portfolio risk the risk worker keeps beside it.
//!
//! The [`Gate`] checks an order against per-symbol and portfolio [`Limits`], the venue's book
//! ([`MarketView`]), the trading state the risk worker and operators set ([`TradingView`]), our
//! own working orders and positions (kept by the gate from what execution tells it) and rate
//! throttles. Every rejection carries a [`Reject`] reason that is counted. A check allocates
//! nothing, takes no lock and makes no system call: every table is sized when the gate is
//! built.
//!
//! The [`Portfolio`] keeps positions, P&L marked to the books, exposure and open orders per
//! symbol and venue from the execution worker's reports; [`breach`] says which of the
//! portfolio risk limits its figures break and what that does to the trading state, which the
//! [`Board`] keeps, latched until an operator clears it.
//!
//! Prices and quantities are the shared memory's fixed point (units of 1e-9); notionals are
//! nano-currency in `i128`, so no product of a price and a quantity can overflow.

pub mod board;
pub mod breach;
pub mod exposure;
pub mod gate;
pub mod limits;
pub mod market;
pub mod order;
pub mod own_orders;
pub mod portfolio;
pub mod positions;
pub mod reject;
pub mod state;
pub mod throttle;
pub mod watch;
pub mod worker;

pub use board::Board;
pub use gate::Gate;
pub use limits::{Limits, PortfolioLimits, SymbolLimits};
pub use market::MarketView;
pub use order::{NewOrder, Replace, Side};
pub use portfolio::Portfolio;
pub use reject::Reject;
pub use state::{TradingState, TradingView};

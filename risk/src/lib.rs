//! Risk: the pre-trade gate every new and replace order passes, inline, on the execution
//! worker's hot path.
//!
//! The [`Gate`] checks an order against per-symbol and portfolio [`Limits`], the venue's book
//! ([`MarketView`]), the trading state the risk worker and operators set ([`TradingView`]), our
//! own working orders and positions (kept by the gate from what execution tells it) and rate
//! throttles. Every rejection carries a [`Reject`] reason that is counted. A check allocates
//! nothing, takes no lock and makes no system call: every table is sized when the gate is
//! built.
//!
//! Prices and quantities are the shared memory's fixed point (units of 1e-9); notionals are
//! nano-currency in `i128`, so no product of a price and a quantity can overflow.

pub mod exposure;
pub mod gate;
pub mod limits;
pub mod market;
pub mod order;
pub mod own_orders;
pub mod reject;
pub mod state;
pub mod throttle;

pub use gate::Gate;
pub use limits::{Limits, PortfolioLimits, SymbolLimits};
pub use market::MarketView;
pub use order::{NewOrder, Replace, Side};
pub use reject::Reject;
pub use state::{TradingState, TradingView};

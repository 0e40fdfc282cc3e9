//! Execution: the order management system (every order's life, driven by the venues'
//! execution reports) and its positions (kept by [`risk::positions`], which the risk worker
//! shares); the gateway and the strategy build on them.
//!
//! Prices and quantities are the shared memory's fixed point (units of 1e-9); P&L is
//! nano-currency in `i128`.

pub mod engine;
pub mod gate_tap;
pub mod gateway;
pub mod journal;
pub mod metrics;
pub mod oms;
pub mod order_state;
pub mod reconnect;
pub mod reports_out;
pub mod strategy;
pub mod strategy_link;

pub use oms::{Oms, OmsError, Order};
pub use order_state::{Event, IllegalTransition, OrderState};
pub use risk::positions::{Position, Positions};

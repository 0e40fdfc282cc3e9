//! Portfolio risk: fills move positions and P&L, books mark them, open orders count until
//! their last report closes them (a replace carries one on under its new id), the day's peak
//! and drawdown follow the P&L, and each limit's breach is the one the table names.

use risk::breach::{
    Breach, PortfolioHeadroom, PortfolioRisk, PortfolioRiskLimits, SymbolHeadroom, SymbolRiskLimits,
};
use risk::portfolio::{PortfolioError, ReportFacts};
use risk::{Portfolio, Side, TradingState};
use shm_layout::records::{order_state, report_kind};

const ONE: i64 = 1_000_000_000;
const CASH: i128 = ONE as i128;

fn report(
    order_id: u64,
    kind: u8,
    state: u8,
    side: Side,
    price: i64,
    quantity: i64,
    leaves: i64,
) -> ReportFacts {
    ReportFacts {
        instrument: 7,
        venue: 1,
        side,
        kind,
        state,
        order_id,
        replacement_id: 0,
        price: price * ONE,
        quantity: quantity * ONE,
        leaves: leaves * ONE,
    }
}

fn accepted(id: u64, side: Side, price: i64, quantity: i64) -> ReportFacts {
    report(id, report_kind::ACCEPTED, order_state::NEW, side, price, quantity, quantity)
}

#[test]
fn fills_make_the_position_and_the_books_mark_it() {
    let mut portfolio = Portfolio::new(&[7, 8], 3, 16);
    portfolio.apply(&accepted(1, Side::Buy, 100, 10)).unwrap();
    let risk = *portfolio.symbol(7).unwrap();
    assert_eq!((risk.open_buy, risk.open_sell, risk.position), (1_000 * CASH, 0, 0));
    let partly = report(1, report_kind::FILL, order_state::PARTIALLY_FILLED, Side::Buy, 98, 4, 6);
    let risk = *portfolio.apply(&partly).unwrap();
    assert_eq!((risk.position, risk.unrealized), (4 * ONE, 0), "no book: no mark");
    assert_eq!(risk.open_buy, 600 * CASH, "what is left works on at its limit price, 100, not the fill's");
    portfolio.mark(7, 0, 101 * ONE, 103 * ONE).unwrap();
    let risk = *portfolio.mark(7, 2, 0, 99 * ONE).unwrap();
    assert_eq!(risk.mark, 102 * ONE, "a one-sided book leaves no mid");
    let risk = *portfolio.mark(7, 2, 97 * ONE, 99 * ONE).unwrap();
    assert_eq!((risk.mark, risk.unrealized), (100 * ONE, 8 * CASH), "the mean of the mids, 102 and 98");
    let risk = *portfolio.mark(7, 2, 101 * ONE, 103 * ONE).unwrap();
    assert_eq!((risk.unrealized, risk.net, risk.exposure), (16 * CASH, 408 * CASH, 408 * CASH));
    let rest = report(1, report_kind::FILL, order_state::FILLED, Side::Buy, 99, 6, 0);
    let risk = *portfolio.apply(&rest).unwrap();
    assert_eq!((risk.position, risk.open_buy, portfolio.open_orders()), (10 * ONE, 0, 0));
    assert_eq!(portfolio.venue_position(7, 1).unwrap().average_price, 98_600_000_000);
    let totals = portfolio.totals();
    assert_eq!((totals.pnl, totals.gross, totals.open), (34 * CASH, 1_020 * CASH, 0));
}

#[test]
fn a_replace_carries_the_order_on_under_its_new_id_and_a_cancel_ends_it() {
    let mut portfolio = Portfolio::new(&[7], 3, 16);
    portfolio.apply(&accepted(1, Side::Sell, 100, 10)).unwrap();
    let mut replaced = report(1, report_kind::REPLACED, order_state::REPLACED, Side::Sell, 101, 8, 8);
    replaced.replacement_id = 2;
    let risk = *portfolio.apply(&replaced).unwrap();
    assert_eq!((risk.open_sell, portfolio.open_orders()), (808 * CASH, 1));
    let risk = *portfolio
        .apply(&report(2, report_kind::CANCELED, order_state::CANCELED, Side::Sell, 101, 8, 0))
        .unwrap();
    assert_eq!((risk.open_sell, portfolio.open_orders()), (0, 0));
}

#[test]
fn the_peak_holds_the_days_best_pnl_and_the_drawdown_is_measured_from_it() {
    let mut portfolio = Portfolio::new(&[7], 3, 16);
    portfolio.apply(&report(1, report_kind::FILL, order_state::FILLED, Side::Buy, 100, 10, 0)).unwrap();
    portfolio.mark(7, 0, 109 * ONE, 111 * ONE).unwrap();
    let risk = *portfolio.mark(7, 0, 104 * ONE, 106 * ONE).unwrap();
    assert_eq!((risk.pnl, risk.peak, risk.drawdown), (50 * CASH, 100 * CASH, 50 * CASH));
    let limits =
        SymbolRiskLimits { instrument: 7, max_drawdown: Some(49 * CASH), ..SymbolRiskLimits::default() };
    let headroom = SymbolHeadroom::of(&risk, &limits);
    assert_eq!((headroom.drawdown, headroom.breach()), (Some(-CASH), Some(Breach::Drawdown)));
    assert_eq!(Breach::Drawdown.state(), TradingState::ReduceOnly);
}

#[test]
fn each_limit_is_breached_just_past_it_and_the_strictest_breach_comes_first() {
    let mut portfolio = Portfolio::new(&[7], 3, 16);
    portfolio.apply(&report(1, report_kind::FILL, order_state::FILLED, Side::Sell, 100, 10, 0)).unwrap();
    let risk = *portfolio.mark(7, 0, 104 * ONE, 106 * ONE).unwrap(); // short 10 from 100 at 105: -50
    let at = |loss, exposure| SymbolRiskLimits {
        instrument: 7,
        max_loss: loss,
        max_drawdown: None,
        max_exposure: exposure,
    };
    assert_eq!(
        SymbolHeadroom::of(&risk, &at(Some(50 * CASH), Some(1_050 * CASH))).breach(),
        None,
        "at the limits"
    );
    assert_eq!(SymbolHeadroom::of(&risk, &at(None, Some(1_049 * CASH))).breach(), Some(Breach::Exposure));
    assert_eq!(SymbolHeadroom::of(&risk, &at(Some(49 * CASH), Some(CASH))).breach(), Some(Breach::Loss));
    assert_eq!(Breach::Loss.state(), TradingState::Halted);

    let whole = PortfolioRisk::default().next(portfolio.totals());
    assert_eq!((whole.totals.net, whole.drawdown()), (-1_050 * CASH, 50 * CASH));
    let limits = |net| PortfolioRiskLimits {
        max_gross: Some(1_050 * CASH),
        max_net: net,
        ..PortfolioRiskLimits::default()
    };
    assert_eq!(PortfolioHeadroom::of(&whole, &limits(Some(1_050 * CASH))).breach(), None);
    assert_eq!(
        PortfolioHeadroom::of(&whole, &limits(Some(1_049 * CASH))).breach(),
        Some(Breach::NetExposure)
    );
}

#[test]
fn a_report_or_book_about_what_the_portfolio_does_not_hold_is_refused_by_name() {
    let mut portfolio = Portfolio::new(&[7], 3, 16);
    let mut stranger = accepted(1, Side::Buy, 100, 1);
    stranger.instrument = 9;
    assert_eq!(portfolio.apply(&stranger).unwrap_err(), PortfolioError::UnknownInstrument(9));
    assert_eq!(portfolio.mark(7, 3, ONE, ONE).unwrap_err(), PortfolioError::UnknownVenue(3));
    assert_eq!(portfolio.open_orders(), 0, "nothing taken");
}

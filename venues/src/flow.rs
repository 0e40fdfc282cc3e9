//! Seeded background order flow for the simulated venues.
//!
//! Every symbol has a fair value that moves as a geometric random walk, stepped every
//! millisecond, shared by all venues: each venue process generates the same path from the same
//! seed. A venue sees it late (its lag) and with its own noise, so venues briefly disagree and
//! cross-venue arbitrage appears. Now and then the market enters a burst: volatility and every
//! venue's message rate rise for a while, as in a volatile spell.
//!
//! Orders arrive as a Poisson process. Most are limit orders resting a few ticks from the
//! venue's view of the fair value (geometric depth, sizes in round lots), some cancel a resting
//! order of the same flow, and some are marketable (IOC across the spread). Same seed, same
//! session.

use crate::matching::{is_external, Engine, Event, NewOrder, OrderId, OrderType, Side};
use crate::random::Random;

/// Nanoseconds between two steps of the fair value.
pub const FAIR_VALUE_STEP_NS: u64 = 1_000_000;

/// One symbol's parameters. Prices are in ticks of 1/10,000 (ITCH's unit).
#[derive(Debug, Clone, PartialEq)]
pub struct SymbolSpec {
    /// The symbol.
    pub name: String,
    /// Its opening fair value.
    pub start_price: i64,
    /// The price increment orders must respect.
    pub tick: i64,
    /// The round lot.
    pub lot: u64,
    /// Relative volatility per square root of a second (0.0005 is a calm large cap).
    pub volatility: f64,
    /// Half the typical spread, in increments.
    pub half_spread: i64,
}

impl SymbolSpec {
    /// A US equity priced `start_price` (1/10,000 of a dollar): cent ticks, 100-share lots,
    /// a calm volatility and a one-cent half spread.
    pub fn equity(name: &str, start_price: i64) -> Self {
        Self { name: name.to_owned(), start_price, tick: 100, lot: 100, volatility: 0.002, half_spread: 1 }
    }
}

/// Parameters shared by every venue: the seed, the symbols, and the burst regime.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketSpec {
    /// The session's seed.
    pub seed: u64,
    /// The symbols.
    pub symbols: Vec<SymbolSpec>,
    /// Bursts starting per second, on average.
    pub bursts_per_s: f64,
    /// How long a burst lasts, in nanoseconds.
    pub burst_ns: u64,
    /// The factor on volatility and message rates during a burst.
    pub burst_factor: f64,
}

impl MarketSpec {
    /// Equities `(name, start price)` with the default burst regime: a burst every five seconds
    /// on average, lasting 200 ms, tripling volatility and message rates.
    pub fn equities(seed: u64, symbols: &[(&str, i64)]) -> Self {
        Self {
            seed,
            symbols: symbols.iter().map(|&(name, price)| SymbolSpec::equity(name, price)).collect(),
            bursts_per_s: 0.2,
            burst_ns: 200_000_000,
            burst_factor: 3.0,
        }
    }

    /// The same market without bursts.
    pub fn calm(mut self) -> Self {
        self.bursts_per_s = 0.0;
        self
    }
}

/// The shared fair values, stepped forward in time.
#[derive(Debug, Clone)]
pub struct FairValue {
    rng: Random,
    log_prices: Vec<f64>,
    step_volatility: Vec<f64>,
    steps: u64,
    burst_left: u64,
    burst_chance: f64,
    burst_steps: u64,
    burst_factor: f64,
}

impl FairValue {
    /// The fair values of `market` at time 0.
    pub fn new(market: &MarketSpec) -> Self {
        let step_s = FAIR_VALUE_STEP_NS as f64 / 1e9;
        Self {
            rng: Random::new(market.seed, u64::MAX),
            log_prices: market.symbols.iter().map(|s| (s.start_price as f64).ln()).collect(),
            step_volatility: market.symbols.iter().map(|s| s.volatility * step_s.sqrt()).collect(),
            steps: 0,
            burst_left: 0,
            burst_chance: market.bursts_per_s * step_s,
            burst_steps: market.burst_ns / FAIR_VALUE_STEP_NS,
            burst_factor: market.burst_factor,
        }
    }

    /// Steps the walk up to `t_ns` (which never goes back).
    pub fn advance_to(&mut self, t_ns: u64) {
        while self.steps < t_ns / FAIR_VALUE_STEP_NS {
            self.steps += 1;
            if self.burst_left > 0 {
                self.burst_left -= 1;
            } else if self.rng.chance(self.burst_chance) {
                self.burst_left = self.burst_steps;
            }
            let factor = if self.burst_left > 0 { self.burst_factor } else { 1.0 };
            for (log_price, sigma) in self.log_prices.iter_mut().zip(&self.step_volatility) {
                *log_price += sigma * factor * self.rng.normal();
            }
        }
    }

    /// The fair value of `symbol` now, in ticks.
    pub fn price(&self, symbol: usize) -> f64 {
        self.log_prices[symbol].exp()
    }

    /// Whether a burst is under way.
    pub fn in_burst(&self) -> bool {
        self.burst_left > 0
    }
}

/// One venue's flow parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct VenueSpec {
    /// Distinguishes the venue's own randomness (noise, arrivals) from the others'.
    pub venue: u64,
    /// Messages per second outside bursts.
    pub rate_per_s: f64,
    /// How late the venue sees the fair value.
    pub lag_ns: u64,
    /// Standard deviation of the venue's noise on the fair value, in increments.
    pub noise: f64,
    /// Share of actions that cancel a resting order.
    pub cancel_share: f64,
    /// Share of actions that are marketable (IOC across the spread).
    pub marketable_share: f64,
}

impl VenueSpec {
    /// Venue `venue` at `rate_per_s`, seeing the fair value at once with half a tick of noise;
    /// 30% of actions cancel and 10% cross the spread.
    pub fn new(venue: u64, rate_per_s: f64) -> Self {
        Self { venue, rate_per_s, lag_ns: 0, noise: 0.5, cancel_share: 0.3, marketable_share: 0.1 }
    }
}

/// What the flow does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Submit an order on `symbol`.
    Submit {
        /// The symbol's index.
        symbol: usize,
        /// The order.
        order: NewOrder,
    },
    /// Cancel a resting order on `symbol`.
    Cancel {
        /// The symbol's index.
        symbol: usize,
        /// The order.
        id: OrderId,
    },
}

/// The background order flow of one venue.
#[derive(Debug, Clone)]
pub struct VenueFlow {
    symbols: Vec<SymbolSpec>,
    venue: VenueSpec,
    fair: FairValue,
    burst_factor: f64,
    rng: Random,
    now_ns: u64,
    next_id: OrderId,
    resting: Vec<Vec<OrderId>>,
    drawn: Option<(u64, Action)>,
}

impl VenueFlow {
    /// The flow of `venue` in `market`.
    pub fn new(market: &MarketSpec, venue: VenueSpec) -> Self {
        Self {
            symbols: market.symbols.clone(),
            fair: FairValue::new(market),
            burst_factor: market.burst_factor,
            rng: Random::new(market.seed, venue.venue),
            now_ns: venue.lag_ns,
            next_id: 1,
            resting: vec![Vec::new(); market.symbols.len()],
            drawn: None,
            venue,
        }
    }

    /// The venue's time: nanoseconds since the session began.
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }

    /// The venue's (lagged, noiseless) view of the fair value of `symbol`, in ticks.
    pub fn fair_value(&self, symbol: usize) -> f64 {
        self.fair.price(symbol)
    }

    /// The next action and the time it happens.
    pub fn next_action(&mut self) -> (u64, Action) {
        self.drawn.take().unwrap_or_else(|| self.draw())
    }

    /// The next action if it happens at or before `limit_ns` (venue time); a live venue paces
    /// its flow by asking for the actions due by the wall clock.
    pub fn next_action_until(&mut self, limit_ns: u64) -> Option<(u64, Action)> {
        let next = match self.drawn {
            Some(drawn) => drawn,
            None => self.draw(),
        };
        if next.0 <= limit_ns {
            self.drawn = None;
            Some(next)
        } else {
            self.drawn = Some(next);
            None
        }
    }

    fn draw(&mut self) -> (u64, Action) {
        let rate = self.venue.rate_per_s * if self.fair.in_burst() { self.burst_factor } else { 1.0 };
        self.now_ns += (self.rng.exponential(1e9 / rate) as u64).max(1);
        self.fair.advance_to(self.now_ns - self.venue.lag_ns);
        let symbol = self.rng.below(self.symbols.len() as u64) as usize;
        let roll = self.rng.uniform();
        if roll < self.venue.cancel_share && !self.resting[symbol].is_empty() {
            let at = self.rng.below(self.resting[symbol].len() as u64) as usize;
            let id = self.resting[symbol].swap_remove(at);
            return (self.now_ns, Action::Cancel { symbol, id });
        }
        let marketable = roll > 1.0 - self.venue.marketable_share;
        (self.now_ns, Action::Submit { symbol, order: self.order(symbol, marketable) })
    }

    fn order(&mut self, symbol: usize, marketable: bool) -> NewOrder {
        let spec = &self.symbols[symbol];
        let side = if self.rng.chance(0.5) { Side::Buy } else { Side::Sell };
        let view = self.fair.price(symbol) / spec.tick as f64 + self.venue.noise * self.rng.normal();
        let offset = if marketable {
            -(spec.half_spread + 1 + self.rng.geometric(0.5) as i64)
        } else {
            spec.half_spread + self.rng.geometric(0.35) as i64
        };
        let increments = match side {
            Side::Buy => view.floor() as i64 - offset,
            Side::Sell => view.ceil() as i64 + offset,
        };
        let price = increments.max(1) * spec.tick;
        let quantity = spec.lot * (1 + self.rng.geometric(0.4));
        let id = self.next_id;
        self.next_id += 1;
        let order_type = if marketable { OrderType::Ioc { price } } else { OrderType::Limit { price } };
        NewOrder { id, side, quantity, order_type }
    }

    /// Carries out `action` in `engines` (one per symbol), with what happened in `events`
    /// (cleared first), and lets the flow see it ([`VenueFlow::observe`]); returns the symbol.
    pub fn apply(&mut self, action: Action, engines: &mut [Engine], events: &mut Vec<Event>) -> usize {
        events.clear();
        let symbol = match action {
            Action::Submit { symbol, order } => {
                engines[symbol].submit(order, events);
                symbol
            }
            Action::Cancel { symbol, id } => {
                engines[symbol].cancel(id, events);
                symbol
            }
        };
        self.observe(symbol, &events[..]);
        symbol
    }

    /// Tells the flow what happened on `symbol` (its own actions and outside clients'), so it
    /// cancels only its own orders that still rest: an external order resting is not its to
    /// cancel and is ignored.
    pub fn observe(&mut self, symbol: usize, events: &[Event]) {
        let resting = &mut self.resting[symbol];
        for event in events {
            match *event {
                Event::Rested { id, .. } if !is_external(id) => resting.push(id),
                Event::Trade { maker, maker_left: 0, .. } => resting.retain(|&id| id != maker),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::EXTERNAL_ID_BIT;

    fn market(seed: u64) -> MarketSpec {
        let mut market = MarketSpec::equities(seed, &[("AAPL", 1_900_000), ("MSFT", 4_200_000)]).calm();
        market.symbols[1].half_spread = 2;
        market
    }

    fn venue(venue: u64, lag_ns: u64) -> VenueSpec {
        VenueSpec { lag_ns, ..VenueSpec::new(venue, 10_000.0) }
    }

    /// Runs `n` actions of `flow` through engines; returns the engines.
    fn run(flow: &mut VenueFlow, n: usize) -> Vec<Engine> {
        let mut engines = vec![Engine::new(), Engine::new()];
        let mut events = Vec::new();
        for _ in 0..n {
            let (_, action) = flow.next_action();
            flow.apply(action, &mut engines, &mut events);
        }
        engines
    }

    #[test]
    fn the_same_seed_gives_the_same_session() {
        let actions = |seed| {
            let mut flow = VenueFlow::new(&market(seed), venue(1, 0));
            (0..2000).map(|_| flow.next_action()).collect::<Vec<_>>()
        };
        assert_eq!(actions(42), actions(42));
        assert_ne!(actions(42), actions(43));
    }

    #[test]
    fn venues_share_the_fair_value_path_but_not_their_orders() {
        let mut a = FairValue::new(&market(5));
        let mut b = FairValue::new(&market(5));
        a.advance_to(3_000_000_000);
        b.advance_to(3_000_000_000);
        assert_eq!(a.price(0), b.price(0));
        let mut va = VenueFlow::new(&market(5), venue(1, 0));
        let mut vb = VenueFlow::new(&market(5), venue(2, 0));
        assert_ne!(va.next_action(), vb.next_action());
    }

    #[test]
    fn arrivals_come_at_the_configured_rate() {
        let mut flow = VenueFlow::new(&market(9), venue(1, 0));
        let n = 50_000;
        let mut last = 0;
        for _ in 0..n {
            last = flow.next_action().0;
        }
        let rate = f64::from(n) / (last as f64 / 1e9);
        assert!((rate - 10_000.0).abs() < 300.0, "rate {rate}");
    }

    #[test]
    fn pacing_by_a_time_limit_yields_the_same_actions_as_drawing_them_one_by_one() {
        let market = MarketSpec::equities(5, &[("AAPL", 1_900_000), ("MSFT", 4_200_000)]);
        let mut drawn = VenueFlow::new(&market, VenueSpec::new(1, 10_000.0));
        let mut paced = drawn.clone();
        let expected: Vec<_> = (0..500).map(|_| drawn.next_action()).collect();
        let mut actions = Vec::new();
        for limit_ms in 1..10_000 {
            while let Some(action) = paced.next_action_until(limit_ms * 1_000_000) {
                assert!(action.0 <= limit_ms * 1_000_000);
                actions.push(action);
            }
            if actions.len() >= expected.len() {
                break;
            }
        }
        assert_eq!(actions[..expected.len()], expected[..]);
    }

    #[test]
    fn orders_respect_ticks_and_lots_and_the_books_stay_two_sided_near_fair_value() {
        let mut flow = VenueFlow::new(&market(11), venue(1, 0));
        let engines = run(&mut flow, 20_000);
        for (symbol, engine) in engines.iter().enumerate() {
            let (bid, ask) = (engine.best(Side::Buy).unwrap(), engine.best(Side::Sell).unwrap());
            assert!(bid < ask);
            assert!(bid % 100 == 0 && ask % 100 == 0, "prices on the tick grid");
            let fair = flow.fair_value(symbol);
            let mid = (bid + ask) as f64 / 2.0;
            assert!((mid - fair).abs() / fair < 0.002, "mid {mid} far from fair {fair}");
            assert!(engine.levels(Side::Buy).iter().all(|&(_, q)| q % 100 == 0), "round lots");
        }
    }

    #[test]
    fn a_burst_raises_the_rate_and_the_volatility() {
        let mut bursty = market(3);
        bursty.bursts_per_s = 1000.0; // a burst is always under way
        bursty.burst_ns = 1_000_000_000;
        bursty.burst_factor = 4.0;
        let mut flow = VenueFlow::new(&bursty, venue(1, 0));
        let mut last = 0;
        for _ in 0..40_000 {
            last = flow.next_action().0;
        }
        let rate = 40_000.0 / (last as f64 / 1e9);
        assert!(rate > 30_000.0, "rate {rate} during bursts");
        let realized = |spec: &MarketSpec| {
            let mut fair = FairValue::new(spec);
            let mut last = fair.price(0).ln();
            let mut sum = 0.0;
            for step in 1..=2000 {
                fair.advance_to(step * FAIR_VALUE_STEP_NS);
                let now = fair.price(0).ln();
                sum += (now - last).powi(2);
                last = now;
            }
            sum
        };
        let ratio = realized(&bursty) / realized(&market(3));
        assert!((10.0..25.0).contains(&ratio), "variance ratio {ratio}, expected about 16");
    }

    #[test]
    fn the_flow_never_cancels_an_external_order_it_saw_rest() {
        let mut flow = VenueFlow::new(&market(4), venue(1, 0));
        let external = EXTERNAL_ID_BIT | 1;
        let rested = Event::Rested { id: external, side: Side::Buy, price: 100, quantity: 100 };
        flow.observe(0, &[rested]);
        flow.observe(1, &[rested]);
        let mut engines = vec![Engine::new(), Engine::new()];
        let mut events = Vec::new();
        for _ in 0..5_000 {
            let (_, action) = flow.next_action();
            assert!(!matches!(action, Action::Cancel { id, .. } if id == external), "{action:?}");
            flow.apply(action, &mut engines, &mut events);
        }
    }

    #[test]
    fn a_lagging_venue_sees_an_older_fair_value() {
        let market = market(21);
        let mut late = VenueFlow::new(&market, venue(1, 50_000_000));
        let mut fair = FairValue::new(&market);
        let (t, _) = late.next_action();
        fair.advance_to(t - 50_000_000);
        assert_eq!(late.fair_value(0), fair.price(0));
    }
}

//! `exec-bench`: what the execution hot path costs on its own, as one JSON object on stdout:
//!
//! ```text
//! {"gate_ns": {"p50": X, "p99": X, "p999": X, "max": X, "checks": N, "passed": N, "timer_ns": X},
//!  "gateway": [{"protocol": "OUCH 4.2", "orders": N, "per_write": 1, "seconds": X, "orders_per_s": X},
//!              {... "per_write": 64 ...}]}
//! ```
//!
//! * The gate: a check of a new order against every limit (with a working order table, rate
//!   throttles, exposure across two symbols and three venues), timed one by one with the
//!   monotonic clock; `timer_ns` is the clock's own cost, which every sample includes.
//! * The gateway: OUCH 4.2 enter-order messages for distinct client order ids, encoded,
//!   framed in SoupBinTCP and written (one to a write, and 64 to a write as the execution
//!   loop writes a turn's orders together) to a loopback TCP peer that logs us in and discards what it reads, as
//!   fast as the socket takes them.
//!
//! `exec-bench [--checks N] [--orders N]`.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use execution::gateway::ouch::OuchGateway;
use execution::gateway::OrderEntry;
use protocols::ouch_client::ClientConfig;
use protocols::soupbintcp::{Packet, StreamBuffer};
use protocols::soupbintcp_session::Timing;
use risk::{Gate, Limits, MarketView, NewOrder, PortfolioLimits, Side, SymbolLimits, TradingView};

type Error = Box<dyn std::error::Error + Send + Sync>;

const ONE: i64 = 1_000_000_000;
const CENT: i64 = ONE / 100;
/// Orders queued between writes: each order on its own, and a burst the execution loop sends
/// in one turn.
const PER_WRITE: [u64; 2] = [1, 64];

fn arg(args: &[String], flag: &str, default: u64) -> Result<u64, Error> {
    match args.iter().position(|a| a == flag) {
        Some(at) => Ok(args.get(at + 1).ok_or(format!("{flag} takes a number"))?.parse()?),
        None => Ok(default),
    }
}

fn limits() -> Limits {
    let symbol = |instrument| SymbolLimits {
        instrument,
        tick: CENT,
        lot: ONE,
        min_quantity: ONE,
        max_quantity: 10_000 * ONE,
        max_notional: 10_000_000 * i128::from(ONE),
        price_band_bps: 500,
        max_position: 100_000 * ONE,
        max_venue_position: 50_000 * ONE,
        max_working_orders: 64,
        order_rate_per_s: u32::MAX,
        order_burst: u32::MAX,
        cancel_rate_per_s: u32::MAX,
        cancel_burst: u32::MAX,
        max_book_age_ns: u64::MAX,
    };
    Limits {
        symbols: vec![symbol(1), symbol(2)],
        portfolio: PortfolioLimits {
            max_gross_notional: i128::MAX,
            max_net_notional: i128::MAX,
            max_working_orders: 1_000,
            max_risk_heartbeat_age_ns: u64::MAX,
        },
        venues: 3,
        max_working_per_venue_symbol: 16,
    }
}

fn percentile(sorted: &[u64], q: f64) -> u64 {
    sorted[((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// Times `checks` gate checks of new orders; each passed order is then done again, so the
/// working table stays at a realistic few orders a venue and symbol.
fn gate(checks: u64) -> Result<String, Error> {
    let origin = Instant::now();
    let now = || origin.elapsed().as_nanos() as u64 + 1;
    let mut gate = Gate::new(limits(), now())?;
    let market = MarketView { reference_price: 100 * ONE, published_ns: 0, stale: false };
    let mut samples = Vec::with_capacity(checks as usize);
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut working = [0u64; 8];
    for id in 1..=checks {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let side = if state & 1 == 0 { Side::Buy } else { Side::Sell };
        let offset = (state >> 8) as i64 % 200 + 1;
        let price = if side == Side::Buy { 100 * ONE - offset * CENT } else { 100 * ONE + offset * CENT };
        let venue = (state >> 20) as usize % 3;
        let instrument = 1 + (state >> 24) as u32 % 2;
        let order =
            NewOrder { id, venue, instrument, side, price, quantity: ((state >> 32) % 500 + 1) as i64 * ONE };
        let started = Instant::now();
        let passed = gate.check_new(&order, &market, &TradingView::ACTIVE, now()).is_ok();
        samples.push(started.elapsed().as_nanos() as u64);
        if passed {
            let slot = (id % 8) as usize;
            if working[slot] != 0 {
                let old = working[slot];
                gate.done((old >> 40) as usize % 3, 1 + ((old >> 48) as u32 % 2), old & 0xFF_FFFF_FFFF);
            }
            working[slot] = id | (venue as u64) << 40 | u64::from(instrument - 1) << 48;
        }
    }
    let timer = {
        let t = Instant::now();
        for _ in 0..10_000 {
            std::hint::black_box(Instant::now());
        }
        t.elapsed().as_nanos() as u64 / 10_000
    };
    samples.sort_unstable();
    Ok(format!(
        "{{\"p50\": {}, \"p99\": {}, \"p999\": {}, \"max\": {}, \"checks\": {checks}, \"passed\": {}, \"timer_ns\": {timer}}}",
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        percentile(&samples, 0.999),
        samples.last().copied().unwrap_or(0),
        gate.passed(),
    ))
}

/// A SoupBinTCP peer that accepts one login and then reads and discards everything.
fn sink(listener: TcpListener) -> Result<u64, Error> {
    let (mut stream, _) = listener.accept()?;
    let mut buffer = StreamBuffer::new();
    let mut chunk = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
        if total == n as u64 {
            buffer.extend(&chunk[..n]);
            if let Some(Packet::LoginRequest(_)) = buffer.next_packet()? {
                let mut out = Vec::new();
                Packet::LoginAccepted { session: *b"BENCH     ", sequence: 1 }.encode(&mut out)?;
                stream.write_all(&out)?;
            }
        }
    }
}

/// Sends `orders` OUCH orders through the gateway to the sink, writing every `per_write`;
/// orders a second.
fn gateway(orders: u64, per_write: u64) -> Result<String, Error> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let peer = std::thread::spawn(move || sink(listener).map_err(|e| e.to_string()));
    let config = ClientConfig {
        username: "BENCH".into(),
        password: "bench".into(),
        session: String::new(),
        timing: Timing { heartbeat_interval: Duration::from_secs(1), timeout: Duration::from_secs(5) },
    };
    let mut gateway = OuchGateway::connect(addr, &config, 1, 0, &[("AAPL", 1)], "TRKR")?;
    gateway.poll()?; // from here on the socket is non-blocking, as in the execution loop
    let started = Instant::now();
    for id in 1..=orders {
        let price = 100 * ONE + (id % 100) as i64 * CENT;
        gateway.send_new(&NewOrder {
            id,
            venue: 0,
            instrument: 1,
            side: Side::Buy,
            price,
            quantity: 100 * ONE,
        })?;
        if id % per_write == 0 {
            gateway.flush()?;
        }
    }
    while gateway.queued() > 0 {
        gateway.flush()?;
    }
    let seconds = started.elapsed().as_secs_f64();
    drop(gateway);
    let received = peer.join().map_err(|_| "the sink panicked")??;
    Ok(format!(
        "{{\"protocol\": \"OUCH 4.2\", \"orders\": {orders}, \"per_write\": {per_write}, \"seconds\": {seconds:.4}, \"orders_per_s\": {:.0}, \"bytes_received\": {received}}}",
        orders as f64 / seconds
    ))
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let gate = gate(arg(&args, "--checks", 1_000_000)?)?;
    let orders = arg(&args, "--orders", 1_000_000)?;
    let gateways = PER_WRITE.iter().map(|&n| gateway(orders, n)).collect::<Result<Vec<_>, _>>()?;
    println!("{{\"gate_ns\": {gate}, \"gateway\": [{}]}}", gateways.join(", "));
    Ok(())
}

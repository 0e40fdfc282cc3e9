//! Venue C over real loopback WebSocket: the JSON depth feed against the venue server with
//! drops, duplicates, reorders and forced disconnects injected; the authenticated order channel.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use feeds::book::{Book, LevelChange, Side as BookSide};
use feeds::sink::{BookSink, Stamps};
use feeds::taps::Taps;
use feeds::ws_client::{DepthClient, DepthClientConfig};
use protocols::depth_json::DepthMessage;
use protocols::ws_api::{
    Call, Cancel, ExecutionType, Logon, OrderChannelMessage, OrderKind, OrderSide, OrderStatus, Place,
    Request, Response,
};
use protocols::ws_stream::{WsLimits, WsMessage, WsStream};
use venues::clock::unix_now_ms;
use venues::faults::FaultPlan;
use venues::flow::{MarketSpec, VenueSpec};
use venues::matching::Side;
use venues::matching::EXTERNAL_ID_BIT;
use venues::venue_c_server::{ApiKey, JsonVenueConfig, JsonVenueServer, ServerError, ServerStats};

const SYMBOLS: [(&str, i64); 3] = [("AAPL", 1_900_000), ("MSFT", 4_200_000), ("SPY", 5_600_000)];
const KEY: &str = "desk-1";
const SECRET: &[u8] = b"correct horse battery staple";

fn config(rate_per_s: f64) -> JsonVenueConfig {
    let market = MarketSpec::equities(11, &SYMBOLS);
    let keys = vec![ApiKey { key: KEY.into(), secret: SECRET.to_vec() }];
    JsonVenueConfig::new(market, VenueSpec::new(3, rate_per_s), keys)
}

/// A venue running on its own thread until the returned flag is set.
struct Running {
    market_data: SocketAddr,
    orders: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<(ServerStats, JsonVenueServer)>,
}

fn start(config: JsonVenueConfig) -> Running {
    let mut server = JsonVenueServer::bind(config).unwrap();
    let (market_data, orders) = (server.market_data_addr().unwrap(), server.order_addr().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = thread::spawn(move || (server.run(&flag).unwrap(), server));
    Running { market_data, orders, stop, thread }
}

impl Running {
    fn stop(self) -> (ServerStats, JsonVenueServer) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// Levels in the engine's units: (price ticks, shares).
type Levels = Vec<(i64, u64)>;

fn engine_units(book: &Book, side: BookSide) -> Levels {
    book.side(side).iter().map(|l| (l.price / 100_000, (l.quantity / 1_000_000_000) as u64)).collect()
}

/// The last book each instrument published while correct, with its update id and when; and
/// how often a book was flagged stale. Shared with the test while the feed runs.
#[derive(Default, Clone)]
struct LastBooks(Arc<Mutex<Published>>);

#[derive(Default)]
struct Published {
    correct: HashMap<u32, (Levels, Levels, u64, Instant)>,
    stale_marks: u64,
}

impl BookSink for LastBooks {
    fn level(&mut self, _: u32, _: &LevelChange, _: &Stamps) -> shm_layout::ShmResult<()> {
        Ok(())
    }

    fn book(
        &mut self,
        instrument: u32,
        book: &Book,
        stale: bool,
        stamps: &Stamps,
    ) -> shm_layout::ShmResult<()> {
        let mut published = self.0.lock().unwrap();
        if stale {
            published.stale_marks += 1;
        } else {
            let (bids, asks) = (engine_units(book, BookSide::Bid), engine_units(book, BookSide::Ask));
            published.correct.insert(instrument, (bids, asks, stamps.sequence, Instant::now()));
        }
        Ok(())
    }
}

#[test]
fn the_feed_ends_with_the_engines_books_despite_drops_reorders_duplicates_and_disconnects() {
    let mut config = config(3_000.0);
    config.faults = FaultPlan {
        seed: 7,
        drop: 0.03,
        duplicate: 0.03,
        reorder: 0.03,
        disconnect: 0.003,
        active_for: Some(Duration::from_millis(1_200)),
        ..FaultPlan::NONE
    };
    let started = Instant::now();
    let venue = start(config);
    let symbols = SYMBOLS.iter().enumerate().map(|(i, (s, _))| (s.to_string(), i as u32 + 1)).collect();
    let mut client_config = DepthClientConfig::new(venue.market_data, symbols);
    client_config.reconnect_delay = Duration::from_millis(20);
    let client_stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&client_stop);
    let books = LastBooks::default();
    let mut sink = books.clone();
    let client = thread::spawn(move || {
        let mut client = DepthClient::new(client_config);
        let result = client.run(&mut sink, &mut Taps::default(), &flag);
        (result, client)
    });

    // Faults for 1.2 s (of the venue's clock, which starts after the test's), then trading goes
    // on until every book has been published correct again (resynced after its last gap).
    let faults_over = started + Duration::from_millis(1_300);
    let deadline = Instant::now() + Duration::from_secs(10);
    let resynced = || {
        let published = books.0.lock().unwrap();
        (1..=SYMBOLS.len() as u32).all(|i| published.correct.get(&i).is_some_and(|c| c.3 > faults_over))
    };
    while !(Instant::now() > faults_over && resynced()) {
        assert!(Instant::now() < deadline, "the feed did not resync every book after the faults");
        thread::sleep(Duration::from_millis(20));
    }
    let (stats, server) = venue.stop();
    // The venue's last updates come before its close frame: wait until the feed shows them.
    let expected: Vec<(Levels, Levels, u64)> = (0..SYMBOLS.len())
        .map(|i| {
            let DepthMessage::Snapshot { last_update_id, .. } = server.venue().snapshot(i) else {
                unreachable!()
            };
            let engine = server.venue().engine(i);
            (engine.levels(Side::Buy), engine.levels(Side::Sell), last_update_id)
        })
        .collect();
    let caught_up = || {
        let published = books.0.lock().unwrap();
        expected.iter().enumerate().all(|(i, (bids, asks, id))| {
            published
                .correct
                .get(&(i as u32 + 1))
                .is_some_and(|(b, a, got, _)| (b, a, got) == (bids, asks, id))
        })
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !caught_up() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    client_stop.store(true, Ordering::Relaxed);
    let (result, client) = client.join().unwrap();
    let counters = result.unwrap();
    let sink = books.0.lock().unwrap();

    assert!(
        stats.faults.dropped > 0 && stats.faults.duplicated > 0 && stats.faults.reordered > 0,
        "{stats:?}"
    );
    assert!(stats.faults.disconnects > 0, "{stats:?}");
    assert!(counters.connects > stats.faults.disconnects, "reconnected after each: {counters:?} {stats:?}");
    assert!(counters.snapshot_requests > counters.connects, "resynced after gaps too: {counters:?}");
    assert_eq!(counters.malformed, 0);
    assert!(sink.stale_marks > 0, "books were flagged stale while not known to be correct");
    let gaps: u64 = (0..SYMBOLS.len()).map(|i| client.feed(i).counters().gaps).sum();
    assert!(gaps > 0, "drops and reorders showed up as gaps");
    for (i, (name, _)) in SYMBOLS.iter().enumerate() {
        let (engine_bids, engine_asks, last_update_id) = &expected[i];
        let (bids, asks, update_id, _) = &sink.correct[&(i as u32 + 1)];
        assert_eq!(update_id, last_update_id, "{name}: the feed applied the venue's last update");
        assert_eq!(bids, engine_bids, "{name} bids");
        assert_eq!(asks, engine_asks, "{name} asks");
        assert!(bids.len() + asks.len() > 1, "{name}: a real book (a side may be empty for a moment)");
    }
}

const TIMEOUT: Duration = Duration::from_secs(3);

fn connect(addr: SocketAddr) -> WsStream<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, TIMEOUT).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    WsStream::connect(stream, &addr.to_string(), "/ws", WsLimits::default(), TIMEOUT).unwrap()
}

/// The next text message (each read waits at most the timeout).
fn next_text(ws: &mut WsStream<TcpStream>) -> String {
    for _ in 0..10 {
        match ws.read_message().unwrap() {
            Some(WsMessage::Text(text)) => return text.to_owned(),
            Some(other) => panic!("expected text, got {other:?}"),
            None => {}
        }
    }
    panic!("no message within the timeout")
}

fn call(ws: &mut WsStream<TcpStream>, id: u64, call: Call) -> Response {
    ws.send_text(&Request { id, call }.encode()).unwrap();
    match OrderChannelMessage::decode(next_text(ws).as_bytes()).unwrap() {
        OrderChannelMessage::Response(response) => {
            assert_eq!(response.id, id);
            response
        }
        other => panic!("expected the answer to {id}, got {other:?}"),
    }
}

fn error_code(response: &Response) -> Option<i32> {
    response.error.as_ref().map(|e| e.code)
}

#[test]
fn logons_with_a_bad_signature_an_unknown_key_a_stale_or_replayed_timestamp_are_refused() {
    let venue = start(config(500.0));
    let mut ws = connect(venue.orders);
    let order = Place {
        symbol: "AAPL".into(),
        side: OrderSide::Buy,
        kind: OrderKind::Market,
        time_in_force: None,
        price: None,
        quantity: "100".into(),
        client_order_id: "early".into(),
    };
    let before = call(&mut ws, 1, Call::Place(order));
    assert_eq!((before.status, error_code(&before)), (401, Some(-1002)), "no orders before a logon");

    let now = unix_now_ms();
    let forged = call(&mut ws, 2, Call::Logon(Logon::signed(KEY, b"guessed secret", now)));
    assert_eq!((forged.status, error_code(&forged)), (401, Some(-1022)));
    assert!(forged.error.unwrap().msg.contains("Signature"));
    let unknown = call(&mut ws, 3, Call::Logon(Logon::signed("desk-9", SECRET, now)));
    assert_eq!(error_code(&unknown), Some(-2015));
    let stale = call(&mut ws, 4, Call::Logon(Logon::signed(KEY, SECRET, now - 60_000)));
    assert_eq!(error_code(&stale), Some(-1021));
    let garbage = ws.send_text("{not json");
    assert!(garbage.is_ok());
    let malformed = Response::decode(next_text(&mut ws).as_bytes()).unwrap();
    assert_eq!(error_code(&malformed), Some(-1000));

    let logon = Logon::signed(KEY, SECRET, now);
    let accepted = call(&mut ws, 5, Call::Logon(logon.clone()));
    assert_eq!((accepted.status, accepted.error), (200, None));
    let mut replay = connect(venue.orders);
    let replayed = call(&mut replay, 1, Call::Logon(logon));
    assert_eq!(error_code(&replayed), Some(-1021), "a captured logon cannot be replayed");
    let (stats, _) = venue.stop();
    assert_eq!(stats.logons_refused, 4);
}

#[test]
fn orders_trade_against_the_book_and_fills_arrive_on_the_order_channel_and_in_market_data() {
    let venue = start(config(500.0));
    let mut market_data = connect(venue.market_data);
    let subscribed = call(&mut market_data, 1, Call::Subscribe(vec!["AAPL@trade".into()]));
    assert_eq!(subscribed.status, 200);
    let mut orders = connect(venue.orders);
    assert_eq!(call(&mut orders, 1, Call::Logon(Logon::signed(KEY, SECRET, unix_now_ms()))).status, 200);
    thread::sleep(Duration::from_millis(100)); // the flow builds a book

    let market = |id: &str| Place {
        symbol: "AAPL".into(),
        side: OrderSide::Buy,
        kind: OrderKind::Market,
        time_in_force: None,
        price: None,
        quantity: "100".into(),
        client_order_id: id.into(),
    };
    let placed = call(&mut orders, 2, Call::Place(market("m1")));
    let order_id = placed.result.unwrap()["orderId"].as_u64().unwrap();
    assert_eq!(order_id & EXTERNAL_ID_BIT, EXTERNAL_ID_BIT, "client orders never share the flow's ids");
    let mut reports = Vec::new();
    while reports.last().is_none_or(|r: &protocols::ws_api::ExecutionReport| r.status != OrderStatus::Filled)
    {
        match OrderChannelMessage::decode(next_text(&mut orders).as_bytes()).unwrap() {
            OrderChannelMessage::Execution(report) => reports.push(report),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(reports[0].execution, ExecutionType::New);
    let fills: Vec<_> = reports.iter().filter(|r| r.execution == ExecutionType::Trade).collect();
    assert_eq!(fills.iter().map(|r| r.last_quantity).sum::<i64>(), 100_000_000_000, "100 shares filled");
    assert!(fills.iter().all(|r| r.client_order_id == "m1" && r.order_id == order_id && r.last_price > 0));

    // The same trades reach the market-data subscribers.
    let mut seen = Vec::new();
    let deadline = Instant::now() + TIMEOUT;
    while seen.len() < fills.len() {
        assert!(Instant::now() < deadline, "only {seen:?} of the {} fills reached market data", fills.len());
        if let DepthMessage::Trade { trade_id, price, .. } =
            DepthMessage::decode(next_text(&mut market_data).as_bytes()).unwrap()
        {
            if fills.iter().any(|f| f.trade_id == trade_id && f.last_price == price) {
                seen.push(trade_id);
            }
        }
    }

    let mut deep = market("deep");
    (deep.kind, deep.price) = (OrderKind::Limit, Some("1".into()));
    let resting = call(&mut orders, 3, Call::Place(deep)).result.unwrap()["orderId"].as_u64().unwrap();
    let new = OrderChannelMessage::decode(next_text(&mut orders).as_bytes()).unwrap();
    assert!(matches!(new, OrderChannelMessage::Execution(r) if r.status == OrderStatus::New));
    let cancel = Cancel { symbol: "AAPL".into(), client_order_id: "deep".into() };
    assert_eq!(call(&mut orders, 4, Call::Cancel(cancel.clone())).status, 200);
    let cancelled = OrderChannelMessage::decode(next_text(&mut orders).as_bytes()).unwrap();
    assert!(matches!(cancelled, OrderChannelMessage::Execution(r) if r.execution == ExecutionType::Canceled));
    assert_eq!(error_code(&call(&mut orders, 5, Call::Cancel(cancel))), Some(-2011), "already cancelled");

    // An order left resting when the session ends is cancelled with it.
    let mut left = market("left");
    (left.kind, left.price) = (OrderKind::Limit, Some("1".into()));
    let left_id = call(&mut orders, 6, Call::Place(left)).result.unwrap()["orderId"].as_u64().unwrap();
    drop(orders);
    thread::sleep(Duration::from_millis(100));
    let (stats, server) = venue.stop();
    assert!(!server.venue().engine(0).is_resting(left_id) && !server.venue().engine(0).is_resting(resting));
    assert_eq!(stats.orders, 3);
}

#[test]
fn clients_that_connect_and_say_nothing_do_not_delay_market_data_and_are_dropped_when_their_time_is_up() {
    use std::io::Read;
    let mut config = config(2_000.0);
    config.handshake_timeout = Duration::from_millis(500);
    let venue = start(config);
    let mut ws = connect(venue.market_data);
    let streams = SYMBOLS.iter().map(|(s, _)| format!("{s}@depth")).collect();
    assert_eq!(call(&mut ws, 1, Call::Subscribe(streams)).status, 200);
    next_text(&mut ws);

    let silent =
        [venue.market_data, venue.orders].map(|addr| TcpStream::connect_timeout(&addr, TIMEOUT).unwrap());
    let watching = Instant::now();
    let (mut last, mut longest, mut updates) = (Instant::now(), Duration::ZERO, 0);
    while watching.elapsed() < Duration::from_millis(800) {
        next_text(&mut ws);
        longest = longest.max(last.elapsed());
        last = Instant::now();
        updates += 1;
    }
    assert!(longest < Duration::from_millis(200), "market data stalled for {longest:?} ({updates} updates)");
    for mut stream in silent {
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        assert_eq!(stream.read(&mut [0u8; 16]).unwrap(), 0, "the venue dropped the silent connection");
    }
    let (stats, _) = venue.stop();
    assert_eq!(stats.handshake_failures, 2, "{stats:?}");
}

#[test]
fn a_handshake_that_arrives_in_pieces_opens_the_connection() {
    use std::io::{Read, Write};
    let venue = start(config(100.0));
    let mut stream = TcpStream::connect_timeout(&venue.market_data, TIMEOUT).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let request = protocols::websocket::client_request("venue", "/ws", "dGhlIHNhbXBsZSBub25jZQ==");
    let (first, second) = request.as_bytes().split_at(request.len() / 2);
    stream.write_all(first).unwrap();
    thread::sleep(Duration::from_millis(50));
    stream.write_all(second).unwrap();
    let mut answer = [0u8; 256];
    let n = stream.read(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 101 "), "{answer}");
    assert!(answer.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "the key's accept value: {answer}");
    let (stats, _) = venue.stop();
    assert_eq!((stats.market_data_clients, stats.handshake_failures), (1, 0), "{stats:?}");
}

#[test]
fn a_venue_with_a_bad_fault_plan_is_refused_at_bind_naming_the_field() {
    let mut config = config(100.0);
    config.faults = FaultPlan { disconnect: 2.0, ..FaultPlan::NONE };
    let error = JsonVenueServer::bind(config).unwrap_err();
    assert!(matches!(error, ServerError::Faults(_)), "{error:?}");
    assert!(error.to_string().contains("disconnect=2 is not within 0..=1"), "{error}");
}

#[test]
fn an_update_held_back_for_reordering_goes_out_by_the_end_of_its_turn_so_the_last_one_is_never_kept() {
    let mut config = config(2_000.0);
    config.faults = FaultPlan { seed: 3, reorder: 1.0, ..FaultPlan::NONE };
    let venue = start(config);
    let symbols = SYMBOLS.iter().enumerate().map(|(i, (s, _))| (s.to_string(), i as u32 + 1)).collect();
    let client_stop = Arc::new(AtomicBool::new(false));
    let (flag, books) = (Arc::clone(&client_stop), LastBooks::default());
    let mut sink = books.clone();
    let client = thread::spawn(move || {
        let mut client = DepthClient::new(DepthClientConfig::new(venue.market_data, symbols));
        client.run(&mut sink, &mut Taps::default(), &flag).unwrap()
    });
    thread::sleep(Duration::from_millis(400));
    let (stats, server) = venue.stop();
    assert!(stats.faults.reordered > 10, "{stats:?}");
    let last_ids: Vec<u64> = (0..SYMBOLS.len())
        .map(|i| match server.venue().snapshot(i) {
            DepthMessage::Snapshot { last_update_id, .. } => last_update_id,
            _ => unreachable!(),
        })
        .collect();
    let caught_up = || {
        let published = books.0.lock().unwrap();
        last_ids
            .iter()
            .enumerate()
            .all(|(i, id)| published.correct.get(&(i as u32 + 1)).is_some_and(|c| c.2 == *id))
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !caught_up() {
        assert!(Instant::now() < deadline, "the feed never got each book's last update: {last_ids:?}");
        thread::sleep(Duration::from_millis(20));
    }
    client_stop.store(true, Ordering::Relaxed);
    client.join().unwrap();
}

#[test]
fn a_feed_that_hears_nothing_checks_its_books_against_snapshots_and_so_gets_the_last_updates() {
    let mut config = config(2_000.0);
    config.faults = FaultPlan { seed: 5, drop: 1.0, ..FaultPlan::NONE }; // every update is lost
    let mut server = JsonVenueServer::bind(config).unwrap();
    let market_data = server.market_data_addr().unwrap();
    let close = Arc::new(AtomicBool::new(false));
    let (closing, closed) = std::sync::mpsc::channel();
    let venue = thread::spawn({
        let close = Arc::clone(&close);
        move || {
            let stats = server.trade_until(&close).unwrap();
            let books: Vec<(Levels, Levels)> = (0..SYMBOLS.len())
                .map(|i| {
                    (server.venue().engine(i).levels(Side::Buy), server.venue().engine(i).levels(Side::Sell))
                })
                .collect();
            closing.send((stats, books)).unwrap();
            server.linger_until(Instant::now() + Duration::from_secs(3)).unwrap();
        }
    });
    let symbols = SYMBOLS.iter().enumerate().map(|(i, (s, _))| (s.to_string(), i as u32 + 1)).collect();
    let mut client_config = DepthClientConfig::new(market_data, symbols);
    client_config.audit_after = Duration::from_millis(100);
    let client_stop = Arc::new(AtomicBool::new(false));
    let (flag, books) = (Arc::clone(&client_stop), LastBooks::default());
    let mut sink = books.clone();
    let client = thread::spawn(move || {
        let mut client = DepthClient::new(client_config);
        let counters = client.run(&mut sink, &mut Taps::default(), &flag).unwrap();
        (counters, client.feed(0).counters())
    });
    thread::sleep(Duration::from_millis(300));
    close.store(true, Ordering::Relaxed);
    let (stats, expected) = closed.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(stats.faults.dropped > 10, "every update was lost: {stats:?}");
    let matches = || {
        let published = books.0.lock().unwrap();
        expected.iter().enumerate().all(|(i, (bids, asks))| {
            published.correct.get(&(i as u32 + 1)).is_some_and(|(b, a, _, _)| (b, a) == (bids, asks))
        })
    };
    let deadline = Instant::now() + Duration::from_secs(2);
    while !matches() {
        assert!(Instant::now() < deadline, "the quiet books were never checked against a snapshot");
        thread::sleep(Duration::from_millis(20));
    }
    client_stop.store(true, Ordering::Relaxed);
    let (counters, first_book) = client.join().unwrap();
    venue.join().unwrap();
    assert!(counters.audits > 0, "{counters:?}");
    assert_eq!(first_book.gaps, 0, "no update ever came to show a gap: the checks found the changes");
}

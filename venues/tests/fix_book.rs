//! Venue B end to end on loopback TCP: the venue server runs its flow by the wall clock and
//! serves FIX; feed handlers log on, subscribe and keep books, through lost, duplicated and
//! reordered refreshes and forced disconnects. Once the flow stops, every feed must publish,
//! not stale, exactly the books of the venue's engines.
//!
//! The flow is a function of its seed and of how long it runs, so the test knows the final
//! books in advance from a venue of its own, and waits (boundedly) until the feeds show them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use feeds::book::{Book, LevelChange, Side as BookSide};
use feeds::fix_client::{ConnectionCounters, FixClient, FixClientConfig};
use feeds::fix_feed::{FixFeedConfig, FixFeedCounters};
use feeds::sink::{BookSink, Stamps};
use feeds::taps::Taps;
use protocols::fix_session::SessionCounters;
use venues::faults::FaultPlan;
use venues::fix_server::{FixVenueConfig, FixVenueServer, ServerError, Stats};
use venues::flow::{MarketSpec, VenueSpec};
use venues::matching::Side;
use venues::venue_b::{FixVenue, VenueOutput};

const SYMBOLS: [(&str, i64); 3] = [("AAPL", 1_900_000), ("MSFT", 4_200_000), ("SPY", 5_600_000)];
const FLOW_NS: u64 = 400_000_000;

/// Levels of one side in the engine's units: (price ticks, shares).
type Levels = Vec<(i64, u64)>;

/// A book as published: bids, asks, stale.
type PublishedBook = (Levels, Levels, bool);

/// What a feed last published per instrument.
#[derive(Debug, Clone, Default)]
struct Published(Arc<Mutex<Vec<Option<PublishedBook>>>>);

impl BookSink for Published {
    fn level(&mut self, _: u32, _: &LevelChange, _: &Stamps) -> shm_layout::ShmResult<()> {
        Ok(())
    }

    fn book(&mut self, instrument: u32, book: &Book, stale: bool, _: &Stamps) -> shm_layout::ShmResult<()> {
        let side = |s| {
            book.side(s).iter().map(|l| (l.price / 100_000, (l.quantity / 1_000_000_000) as u64)).collect()
        };
        let mut books = self.0.lock().unwrap();
        books[instrument as usize] = Some((side(BookSide::Bid), side(BookSide::Ask), stale));
        Ok(())
    }
}

fn market(seed: u64) -> MarketSpec {
    MarketSpec::equities(seed, &SYMBOLS)
}

fn venue_spec() -> VenueSpec {
    VenueSpec::new(2, 5_000.0)
}

/// The books the venue holds once its flow has run for `FLOW_NS`.
fn final_books(seed: u64) -> Vec<(Levels, Levels)> {
    let mut venue = FixVenue::new(market(seed), venue_spec());
    venue.advance_until(FLOW_NS, &mut VenueOutput::default());
    (0..SYMBOLS.len())
        .map(|i| (venue.engine(i).levels(Side::Buy), venue.engine(i).levels(Side::Sell)))
        .collect()
}

fn feed_config(name: &str) -> FixFeedConfig {
    FixFeedConfig {
        sender_comp_id: name.into(),
        target_comp_id: "VENUEB".into(),
        heartbeat_interval_s: 1,
        symbols: SYMBOLS.iter().enumerate().map(|(i, (s, _))| ((*s).to_owned(), i as u32)).collect(),
        depth: 4096,
    }
}

struct FeedRun {
    counters: FixFeedCounters,
    session: SessionCounters,
    connections: ConnectionCounters,
    caught_up: bool,
}

/// Runs a venue with `faults` and `feeds` clients until every client publishes the final
/// books (or 8 s pass); returns what each client saw and the server's stats.
fn run(seed: u64, faults: FaultPlan, feeds: usize) -> (Vec<FeedRun>, Stats) {
    let expected = final_books(seed);
    let mut config = FixVenueConfig::new(market(seed), venue_spec());
    config.faults = faults;
    config.flow_for_ns = Some(FLOW_NS);
    let mut server = FixVenueServer::bind(config).expect("bind loopback");
    let addr = server.local_addr().unwrap();
    let stop_server = Arc::new(AtomicBool::new(false));
    let stop_feeds = Arc::new(AtomicBool::new(false));
    let server_thread = {
        let stop = stop_server.clone();
        thread::spawn(move || {
            let stats = server.run(&stop).expect("the server runs");
            (server, stats)
        })
    };
    let clients: Vec<_> = (0..feeds)
        .map(|k| {
            let published = Published(Arc::new(Mutex::new(vec![None; SYMBOLS.len()])));
            let mut sink = published.clone();
            let stop = stop_feeds.clone();
            let handle = thread::spawn(move || {
                let mut client = FixClient::new(FixClientConfig::new(addr, feed_config(&format!("FEED{k}"))));
                client.run(&mut sink, &mut Taps::default(), &stop);
                client
            });
            (published, handle)
        })
        .collect();
    let matches = |published: &Published| {
        let books = published.0.lock().unwrap();
        books
            .iter()
            .zip(&expected)
            .all(|(got, (bids, asks))| matches!(got, Some((b, a, false)) if b == bids && a == asks))
    };
    let deadline = Instant::now() + Duration::from_secs(8);
    let started = Instant::now();
    while Instant::now() < deadline
        && (started.elapsed() < Duration::from_nanos(FLOW_NS) || !clients.iter().all(|(p, _)| matches(p)))
    {
        thread::sleep(Duration::from_millis(20));
    }
    let caught_up: Vec<bool> = clients.iter().map(|(p, _)| matches(p)).collect();
    stop_feeds.store(true, Ordering::Release);
    let runs = clients
        .into_iter()
        .zip(caught_up)
        .map(|((_, handle), caught_up)| {
            let client = handle.join().expect("the client thread");
            FeedRun {
                counters: client.feed().counters(),
                session: client.feed().session_counters(),
                connections: client.connections(),
                caught_up,
            }
        })
        .collect();
    stop_server.store(true, Ordering::Release);
    let (server, stats) = server_thread.join().expect("the server thread");
    for (i, (bids, asks)) in expected.iter().enumerate() {
        assert_eq!(&server.venue().engine(i).levels(Side::Buy), bids, "the test knew the venue's bids");
        assert_eq!(&server.venue().engine(i).levels(Side::Sell), asks, "the test knew the venue's asks");
    }
    (runs, stats)
}

#[test]
fn feeds_on_a_clean_connection_hold_the_engines_books() {
    let (runs, stats) = run(31, FaultPlan::NONE, 2);
    assert!(stats.actions > 1_000 && stats.refreshes > 1_000, "{stats:?}");
    assert_eq!(stats.logons, 2);
    for run in &runs {
        assert!(run.caught_up, "{:?}", run.counters);
        let c = run.counters;
        assert_eq!((c.gaps, c.invalid, c.book_errors, c.duplicates), (0, 0, 0, 0), "{c:?}");
        assert_eq!(c.snapshots, 3);
        assert!(c.trades > 0, "trades are reported");
    }
}

#[test]
fn feeds_recover_lost_duplicated_and_reordered_refreshes_by_resend_requests() {
    let faults = FaultPlan { seed: 5, drop: 0.03, duplicate: 0.03, reorder: 0.03, ..FaultPlan::NONE };
    let (runs, stats) = run(32, faults, 1);
    assert!(
        stats.faults.dropped > 10 && stats.faults.duplicated > 10 && stats.faults.reordered > 10,
        "{stats:?}"
    );
    let run = &runs[0];
    assert!(run.caught_up, "{:?} {:?}", run.counters, run.session);
    let c = run.counters;
    assert!(c.gaps > 0 && c.recoveries > 0 && c.duplicates > 0, "{c:?}");
    assert!(run.session.resend_requests_sent > 0);
    assert_eq!((c.invalid, c.book_errors), (0, 0), "{c:?}");
    assert_eq!(run.connections.disconnects, 0);
}

#[test]
fn feeds_reconnect_after_forced_disconnects_and_rebuild_from_fresh_snapshots() {
    let faults = FaultPlan { seed: 6, drop: 0.02, disconnect_every: Some(500), ..FaultPlan::NONE };
    let (runs, stats) = run(33, faults, 1);
    assert!(stats.faults.disconnects >= 1, "{stats:?}");
    let run = &runs[0];
    assert!(run.caught_up, "{:?} {:?}", run.counters, run.connections);
    assert!(run.connections.disconnects >= 1 && run.connections.connects >= 2, "{:?}", run.connections);
    assert!(run.counters.snapshots >= 6, "every session starts from snapshots: {:?}", run.counters);
}

/// A bare FIX client on a blocking socket with a read timeout.
struct Conn {
    stream: std::net::TcpStream,
    session: protocols::fix_session::Session,
    buf: Vec<u8>,
}

impl Conn {
    fn connect(addr: std::net::SocketAddr, name: &str) -> Self {
        let stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).unwrap();
        stream.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let config = protocols::fix_session::SessionConfig {
            sender_comp_id: name.into(),
            target_comp_id: "VENUEB".into(),
            heartbeat_interval_s: 5,
            retention: 100,
        };
        let session = protocols::fix_session::Session::initiate(config, venues::clock::unix_now_ns());
        let mut conn = Self { stream, session, buf: Vec::new() };
        conn.flush();
        conn
    }

    fn flush(&mut self) {
        use std::io::Write;
        let mut out = Vec::new();
        self.session.drain_output(&mut out);
        self.stream.write_all(&out).unwrap();
    }

    fn send(&mut self, body: &protocols::fix44::Body<'_>) {
        use std::io::Write;
        self.flush();
        let bytes = self.session.send(body, venues::clock::unix_now_ns()).to_vec();
        self.stream.write_all(&bytes).unwrap();
    }

    /// Receives until an application message satisfies `wanted` (or `wait` passes); returns it.
    fn receive_until(&mut self, wait: Duration, wanted: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if let Some(found) = self.receive(Duration::from_millis(20)).into_iter().find(|m| wanted(m)) {
                return Some(found);
            }
        }
        None
    }

    /// The application messages that arrive within `wait`, as `|`-separated text.
    fn receive(&mut self, wait: Duration) -> Vec<String> {
        use std::io::Read;
        let deadline = Instant::now() + wait;
        let mut apps = Vec::new();
        let mut chunk = [0u8; 4096];
        while Instant::now() < deadline {
            match self.stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => {}
            }
            let mut used = 0;
            while let Some((frame, n)) = protocols::fix::frame(&self.buf[used..]).unwrap() {
                used += n;
                let now = venues::clock::unix_now_ns();
                if let Ok(protocols::fix_session::Incoming::App(_)) = self.session.on_frame(&frame, now) {
                    apps.push(String::from_utf8_lossy(frame.bytes()).replace('\x01', "|"));
                }
            }
            self.buf.drain(..used);
            self.flush();
        }
        apps
    }
}

#[test]
fn orders_over_tcp_are_acknowledged_filled_and_refused_by_execution_reports() {
    use protocols::fix44::{Body, NewOrderSingle, OrdType, OrderCancelRequest, Side as FixSide};
    let mut config = FixVenueConfig::new(market(34), venue_spec());
    config.flow_for_ns = Some(0);
    let mut server = FixVenueServer::bind(config).unwrap();
    let addr = server.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let server_thread = {
        let stop = stop.clone();
        thread::spawn(move || server.run(&stop).unwrap())
    };
    let mut conn = Conn::connect(addr, "TRADER");
    let now = venues::clock::unix_now_ns();
    let order = |cl_ord_id, side, price: i64| {
        Body::NewOrderSingle(NewOrderSingle {
            cl_ord_id,
            symbol: "MSFT",
            side,
            transact_time_ns: now,
            order_qty: 200_000_000_000,
            ord_type: OrdType::Limit,
            price: Some(price * 100_000),
            time_in_force: None,
        })
    };
    conn.receive(Duration::from_millis(100));
    conn.send(&order("b1", FixSide::Buy, 4_000_000));
    conn.send(&order("s1", FixSide::Sell, 4_000_000));
    conn.send(&Body::OrderCancelRequest(OrderCancelRequest {
        orig_cl_ord_id: "nope",
        cl_ord_id: "c1",
        symbol: "MSFT",
        side: FixSide::Buy,
        transact_time_ns: now,
    }));
    let mut reports = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    while reports.len() < 5 && Instant::now() < deadline {
        reports.extend(conn.receive(Duration::from_millis(50)));
    }
    stop.store(true, Ordering::Release);
    let stats = server_thread.join().unwrap();
    assert_eq!(reports.len(), 5, "{reports:#?}");
    assert!(
        reports[0].contains("|35=8|")
            && reports[0].contains("|11=b1|")
            && reports[0].contains("|150=0|39=0|")
    );
    assert!(reports[1].contains("|11=s1|") && reports[1].contains("|150=0|"));
    assert!(reports[2].contains("|11=s1|") && reports[2].contains("|150=F|39=2|"), "{}", reports[2]);
    assert!(reports[2].contains("|32=200|31=400|"), "{}", reports[2]);
    assert!(reports[3].contains("|11=b1|") && reports[3].contains("|150=F|39=2|"), "{}", reports[3]);
    assert!(reports[4].contains("|35=9|") && reports[4].contains("|434=1|102=1|"), "{}", reports[4]);
    assert_eq!(stats.orders, 3);
}

#[test]
fn a_cut_clients_resting_orders_are_cancelled_and_subscribers_see_their_levels_go() {
    use protocols::fix44::{
        Body, MarketDataRequest, MdEntryType, NewOrderSingle, OrdType, Side as FixSide,
        SubscriptionRequestType,
    };
    let mut config = FixVenueConfig::new(market(37), venue_spec());
    config.flow_for_ns = Some(0); // only the client's order is in the book
    let mut server = FixVenueServer::bind(config).unwrap();
    let addr = server.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let server_thread = {
        let stop = stop.clone();
        thread::spawn(move || {
            let stats = server.run(&stop).unwrap();
            (server, stats)
        })
    };
    let wait = Duration::from_secs(3);
    let mut watcher = Conn::connect(addr, "WATCHER");
    watcher.receive(Duration::from_millis(100));
    watcher.send(&Body::MarketDataRequest(MarketDataRequest {
        md_req_id: "w1",
        subscription: SubscriptionRequestType::SnapshotAndUpdates,
        market_depth: 0,
        entry_types: vec![MdEntryType::Bid, MdEntryType::Offer],
        symbols: vec!["MSFT"],
    }));
    assert!(watcher.receive_until(wait, |m| m.contains("|35=W|")).is_some(), "the snapshot");
    let mut trader = Conn::connect(addr, "TRADER");
    trader.receive(Duration::from_millis(100));
    trader.send(&Body::NewOrderSingle(NewOrderSingle {
        cl_ord_id: "rests",
        symbol: "MSFT",
        side: FixSide::Buy,
        transact_time_ns: venues::clock::unix_now_ns(),
        order_qty: 200_000_000_000,
        ord_type: OrdType::Limit,
        price: Some(1_000_000 * 100_000),
        time_in_force: None,
    }));
    let new_bid = |m: &str| m.contains("|35=X|") && m.contains("|279=0|269=0|") && m.contains("|270=100|");
    assert!(watcher.receive_until(wait, new_bid).is_some(), "the order's level appeared");
    assert!(trader.receive_until(wait, |m| m.contains("|150=0|")).is_some(), "the order is acknowledged");

    // The trader's connection is cut: no Logout, no cancel.
    trader.stream.shutdown(std::net::Shutdown::Both).unwrap();
    drop(trader);
    let deleted = |m: &str| m.contains("|35=X|") && m.contains("|279=2|269=0|") && m.contains("|270=100|");
    let refresh = watcher.receive_until(wait, deleted);
    stop.store(true, Ordering::Release);
    let (server, stats) = server_thread.join().unwrap();
    assert!(refresh.is_some(), "the subscriber saw the level go");
    assert!(server.venue().engine(1).levels(Side::Buy).is_empty(), "the order left the engine's book");
    assert_eq!(stats.cancelled_on_disconnect, 1, "{stats:?}");
}

#[test]
fn a_connection_that_sends_garbage_is_cut_and_the_venue_serves_on() {
    use std::io::{Read, Write};
    let mut server = FixVenueServer::bind(FixVenueConfig::new(market(35), venue_spec())).unwrap();
    let addr = server.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let server_thread = {
        let stop = stop.clone();
        thread::spawn(move || server.run(&stop).unwrap())
    };
    let mut garbage = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).unwrap();
    garbage.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    garbage.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let mut byte = [0u8; 1];
    assert!(matches!(garbage.read(&mut byte), Ok(0)), "the venue closes the connection");
    let mut conn = Conn::connect(addr, "TRADER");
    conn.send(&protocols::fix44::Body::TestRequest { test_req_id: "alive" });
    conn.receive(Duration::from_millis(200));
    assert_eq!(conn.session.state(), protocols::fix_session::State::Active, "a good client logs on");
    stop.store(true, Ordering::Release);
    let stats = server_thread.join().unwrap();
    assert_eq!((stats.connections, stats.invalid, stats.logons), (2, 1, 1), "{stats:?}");
}

#[test]
fn a_venue_with_a_bad_fault_plan_is_refused_at_bind_naming_the_field() {
    let mut config = FixVenueConfig::new(market(36), venue_spec());
    config.faults = FaultPlan { disconnect_every: Some(0), ..FaultPlan::NONE };
    let error = FixVenueServer::bind(config).unwrap_err();
    assert!(matches!(error, ServerError::Faults(_)), "{error:?}");
    assert!(error.to_string().contains("disconnect_every must be at least 1"), "{error}");
}

//! Venue A and its feed on real UDP sockets: the venue paced by the wall clock, dropping,
//! duplicating and reordering packets and going dark for a while; the feed re-requesting every
//! gap from the venue's server. At the end every book in shared memory is the venue's and the
//! feed's counters in shared memory say what happened.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use feeds::itch_feed::ItchFeed;
use feeds::itch_net::{ItchReceiver, ItchReceiverConfig, Poll, Rerequests};
use feeds::metrics::{Counter, FeedMetrics, FeedReport, Timed};
use feeds::publish::BookPublisher;
use feeds::taps::Taps;
use protocols::moldudp64::session;
use shm_layout::records::{Layout, TopOfBook, FLAG_STALE};
use shm_layout::{broadcast, slots, RingGeometry, SegmentOptions};
use venues::faults::FaultPlan;
use venues::flow::{MarketSpec, VenueSpec};
use venues::itch_server::{ItchServer, ItchServerConfig, ServerError};
use venues::matching::Side;

/// Unlinks the test's segments however it ends.
struct Segments(Vec<String>);

impl Drop for Segments {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = shm_layout::unlink(name);
        }
    }
}

fn top_levels(top: &TopOfBook) -> [Vec<(i64, i64)>; 2] {
    let levels = |ls: &[shm_layout::records::Level], n: u16| {
        ls[..usize::from(n)].iter().map(|l| (l.price, l.quantity)).collect()
    };
    [levels(&top.bids, top.bid_levels), levels(&top.asks, top.ask_levels)]
}

fn engine_levels(server: &ItchServer, symbol: usize, side: Side) -> Vec<(i64, i64)> {
    let levels = server.venue().engine(symbol).levels(side);
    levels.into_iter().take(10).map(|(p, q)| (p * 100_000, q as i64 * 1_000_000_000)).collect()
}

#[test]
fn over_a_lossy_udp_link_the_feed_recovers_every_gap_and_ends_with_the_venues_books() {
    let tag = std::process::id();
    let segments = Segments(vec![
        format!("/venues-udp-{tag}.md"),
        format!("/venues-udp-{tag}.books"),
        format!("/venues-udp-{tag}.metrics"),
    ]);
    let options = SegmentOptions::default();
    let ring = broadcast::Writer::create(
        &segments.0[0],
        RingGeometry { capacity: 1 << 16, max_message_size: 64, max_readers: 1 },
        &options,
    )
    .unwrap();
    let slots_writer =
        slots::Writer::create(&segments.0[1], 8, std::mem::size_of::<TopOfBook>() as u32, &options).unwrap();
    let publisher = BookPublisher::new(ring, slots_writer, 10).unwrap();
    drop(FeedMetrics::create(&segments.0[2], &options).unwrap());

    let loopback = |port| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut receiver = ItchReceiver::bind(ItchReceiverConfig {
        listen: loopback(0),
        interface: Ipv4Addr::LOCALHOST,
        poll: Poll::Block { timeout: Duration::from_millis(5) },
    })
    .unwrap();
    let mut server = ItchServer::bind(ItchServerConfig {
        market: MarketSpec::equities(7, &[("AAPL", 1_900_000), ("MSFT", 4_200_000), ("SPY", 5_600_000)]),
        venue: VenueSpec::new(1, 20_000.0),
        session: session("TICKRAIL01"),
        destination: receiver.local_addr().unwrap(),
        rerequest: loopback(0),
        heartbeat_interval: Duration::from_millis(20),
        faults: FaultPlan { drop: 0.03, duplicate: 0.03, reorder: 0.03, seed: 11, ..FaultPlan::NONE },
        blackouts: vec![(Duration::from_millis(300), Duration::from_millis(100))],
        order_entry: None,
    })
    .unwrap();
    let rerequests =
        Rerequests { server: server.rerequest_addr().unwrap(), retry_after: Duration::from_millis(20) };

    let (venue_close, venue_stop_serving, feed_stop) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let (ran, stats) = std::sync::mpsc::channel();
    let venue = std::thread::spawn({
        let (open, serving) = (venue_close.clone(), venue_stop_serving.clone());
        move || {
            ran.send(server.run(&open).unwrap()).unwrap();
            server.serve_until(&serving, None).unwrap();
            server
        }
    });
    let feed = std::thread::spawn({
        let running = feed_stop.clone();
        let name = segments.0[2].clone();
        move || {
            let metrics = FeedMetrics::attach(&name).unwrap();
            let mut feed = ItchFeed::new(session("TICKRAIL01"), 4096, 1 << 16, 4096);
            let mut sink = Timed::new(publisher, &metrics);
            receiver
                .run(&rerequests, &mut feed, &mut sink, &mut Taps::new("A", Some(&metrics), None), &running)
                .unwrap();
            feed
        }
    });
    std::thread::sleep(Duration::from_millis(800));
    venue_close.store(true, Ordering::Relaxed);
    let stats = stats.recv_timeout(Duration::from_secs(10)).expect("the venue closes");
    // The venue has stopped trading; the feed has a bounded time to re-request the tail.
    let deadline = Instant::now() + Duration::from_secs(10);
    let report = loop {
        let report = FeedReport::read(&segments.0[2]).unwrap();
        if report.get(Counter::Messages) + report.get(Counter::BookErrors) >= stats.messages {
            break report;
        }
        assert!(
            Instant::now() < deadline,
            "the feed catches up with {} messages: {report:?}",
            stats.messages
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    feed_stop.store(true, Ordering::Relaxed);
    venue_stop_serving.store(true, Ordering::Relaxed);
    let feed = feed.join().unwrap();
    let server = venue.join().unwrap();

    assert_eq!(feed.next_sequence(), server.venue().next_sequence(), "every message arrived");
    assert!(stats.faults.dropped > 0 && stats.faults.duplicated > 0 && stats.faults.reordered > 0);
    assert!(stats.blacked_out > 0 && stats.rerequests > 0, "{stats:?}");
    let counters = feed.counters();
    assert_eq!((counters.decode_errors, counters.book_errors, counters.publish_errors), (0, 0, 0));
    assert!(counters.gaps > 0 && counters.duplicates > 0);
    assert!(report.get(Counter::RecoveryRequests) >= counters.gaps);
    assert!(report.latency.count > 0 && report.latency.quantile(0.5) > 0);

    let books = slots::Reader::open(&segments.0[1]).unwrap();
    for symbol in 0..3 {
        let mut raw = vec![0u8; std::mem::size_of::<TopOfBook>()];
        books.read(symbol as u64 + 1, &mut raw).unwrap().expect("every symbol was published");
        let top = TopOfBook::from_bytes(&raw);
        assert_eq!(top.header.flags & FLAG_STALE, 0, "symbol {symbol} is not stale at the end");
        let [bids, asks] = top_levels(&top);
        assert_eq!(bids, engine_levels(&server, symbol, Side::Buy), "symbol {symbol} bids");
        assert_eq!(asks, engine_levels(&server, symbol, Side::Sell), "symbol {symbol} asks");
    }
}

#[test]
fn an_order_entered_over_ouch_is_accepted_and_shows_in_the_market_data_on_udp() {
    use protocols::alpha;
    use protocols::itch::stock;
    use protocols::ouch42::{EnterOrder, Inbound, Outbound, Side as OuchSide};
    use protocols::ouch_client::{ClientConfig, OuchClient};
    use protocols::soupbintcp_session::Timing;
    use venues::ouch_server::OuchServerConfig;

    let loopback = |port| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut receiver = ItchReceiver::bind(ItchReceiverConfig {
        listen: loopback(0),
        interface: Ipv4Addr::LOCALHOST,
        poll: Poll::Block { timeout: Duration::from_millis(5) },
    })
    .unwrap();
    let mut server = ItchServer::bind(ItchServerConfig {
        market: MarketSpec::equities(7, &[("AAPL", 1_900_000)]),
        venue: VenueSpec::new(1, 0.001), // quiet: only the test's order trades
        session: session("TICKRAIL01"),
        destination: receiver.local_addr().unwrap(),
        rerequest: loopback(0),
        heartbeat_interval: Duration::from_millis(20),
        faults: FaultPlan::NONE,
        blackouts: Vec::new(),
        order_entry: Some(OuchServerConfig::loopback("TICKRAIL01", &[("ALICE", "pw")])),
    })
    .unwrap();
    let order_entry = server.order_entry_addr().expect("the venue takes orders").unwrap();
    let rerequests =
        Rerequests { server: server.rerequest_addr().unwrap(), retry_after: Duration::from_millis(20) };
    let (close, stop_feed) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let venue = std::thread::spawn({
        let close = close.clone();
        move || (server.run(&close).unwrap(), server)
    });
    let feed = std::thread::spawn({
        let stop = stop_feed.clone();
        let name = format!("/venues-udp-ouch-{}", std::process::id());
        move || {
            let metrics = FeedMetrics::create(&name, &SegmentOptions::default()).unwrap();
            let mut feed = ItchFeed::new(session("TICKRAIL01"), 64, 64, 64);
            receiver
                .run(&rerequests, &mut feed, &mut (), &mut Taps::new("A", Some(&metrics), None), &stop)
                .unwrap();
            shm_layout::unlink(&name).unwrap();
            feed
        }
    });

    let timing =
        Timing { heartbeat_interval: Duration::from_millis(50), timeout: Duration::from_millis(500) };
    let config =
        ClientConfig { username: "ALICE".into(), password: "pw".into(), session: String::new(), timing };
    let mut client = OuchClient::connect(order_entry, &config, 1).unwrap();
    client
        .send(&Inbound::EnterOrder(EnterOrder::day_limit(
            alpha("token", "ORDER1").unwrap(),
            OuchSide::Buy,
            300,
            stock("AAPL"),
            1_890_000,
            *b"TRKR",
        )))
        .unwrap();
    let (_, accepted) = client.recv(Duration::from_secs(2)).unwrap().expect("an answer comes");
    assert!(matches!(accepted, Outbound::Accepted(_)), "{accepted:?}");
    std::thread::sleep(Duration::from_millis(100));
    close.store(true, Ordering::Relaxed);
    let (stats, server) = venue.join().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    stop_feed.store(true, Ordering::Relaxed);
    let feed = feed.join().unwrap();

    assert_eq!(stats.order_entry.logins, 1);
    assert_eq!(server.venue().engine(0).levels(Side::Buy), [(1_890_000, 300)]);
    let book = feed.book(1).expect("the order's stock has a book");
    let bids: Vec<(i64, i64)> =
        book.book().side(feeds::book::Side::Bid).iter().map(|l| (l.price, l.quantity)).collect();
    assert_eq!(bids, [(1_890_000 * 100_000, 300 * 1_000_000_000)], "the feed saw the order on UDP");
}

#[test]
fn during_a_blackout_nothing_reaches_the_feed_not_even_a_heartbeat() {
    let feed = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let blackout = Duration::from_millis(600);
    let mut server = ItchServer::bind(ItchServerConfig {
        market: MarketSpec::equities(7, &[("AAPL", 1_900_000)]),
        venue: VenueSpec::new(1, 5.0), // quiet: heartbeats would fill the silences
        session: session("TICKRAIL01"),
        destination: feed.local_addr().unwrap(),
        rerequest: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        heartbeat_interval: Duration::from_millis(20),
        faults: FaultPlan::NONE,
        blackouts: vec![(Duration::ZERO, blackout)],
        order_entry: None,
    })
    .unwrap();
    // The test's clock starts before the venue's, so the venue is dark until at least then.
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let venue = std::thread::spawn({
        let stop = stop.clone();
        move || server.run(&stop).unwrap()
    });
    let mut packet = [0u8; 2048];
    let dark_until = blackout - Duration::from_millis(50);
    feed.set_read_timeout(Some(dark_until)).unwrap();
    let first = feed.recv(&mut packet).map(|_| started.elapsed());
    assert!(first.is_err(), "a packet arrived {:?} after the start, inside the blackout", first);
    feed.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    assert!(feed.recv(&mut packet).is_ok(), "market data resumes after the blackout");
    stop.store(true, Ordering::Relaxed);
    let stats = venue.join().unwrap();
    assert!(stats.blacked_out > 0, "{stats:?}");
}

#[test]
fn a_fault_plan_that_is_invalid_or_cuts_connections_is_refused_for_udp_market_data() {
    let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let bind = |faults| {
        ItchServer::bind(ItchServerConfig {
            market: MarketSpec::equities(7, &[("AAPL", 1_900_000)]),
            venue: VenueSpec::new(1, 1_000.0),
            session: session("TICKRAIL01"),
            destination: loopback,
            rerequest: loopback,
            heartbeat_interval: Duration::from_millis(20),
            faults,
            blackouts: Vec::new(),
            order_entry: None,
        })
    };
    let error = bind(FaultPlan { drop: 1.5, ..FaultPlan::NONE }).unwrap_err();
    assert!(matches!(error, ServerError::Faults(_)), "{error:?}");
    assert!(error.to_string().contains("drop=1.5 is not within 0..=1"), "{error}");
    for cutting in [
        FaultPlan { disconnect: 0.1, ..FaultPlan::NONE },
        FaultPlan { disconnect_every: Some(9), ..FaultPlan::NONE },
    ] {
        let error = bind(cutting).unwrap_err();
        assert!(error.to_string().contains("no connection to cut"), "{error}");
    }
}

#[test]
fn market_data_multicast_on_the_loopback_interface_reaches_a_feed_that_joined_the_group() {
    let port = {
        let probe = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        probe.local_addr().unwrap().port()
    };
    let group = SocketAddr::from((Ipv4Addr::new(239, 192, 77, 1), port));
    let mut receiver = ItchReceiver::bind(ItchReceiverConfig {
        listen: group,
        interface: Ipv4Addr::LOCALHOST,
        poll: Poll::Block { timeout: Duration::from_millis(5) },
    })
    .unwrap();
    let mut server = ItchServer::bind(ItchServerConfig {
        market: MarketSpec::equities(7, &[("AAPL", 1_900_000)]),
        venue: VenueSpec::new(1, 5_000.0),
        session: session("TICKRAIL01"),
        destination: group,
        rerequest: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        heartbeat_interval: Duration::from_millis(20),
        faults: FaultPlan::NONE,
        blackouts: Vec::new(),
        order_entry: None,
    })
    .unwrap();
    let rerequests =
        Rerequests { server: server.rerequest_addr().unwrap(), retry_after: Duration::from_millis(20) };
    let (close, stop_feed) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let venue = std::thread::spawn({
        let close = close.clone();
        move || {
            let stats = server.run(&close).unwrap();
            server
                .serve_until(&AtomicBool::new(false), Some(Instant::now() + Duration::from_millis(300)))
                .unwrap();
            stats
        }
    });
    let feed = std::thread::spawn({
        let stop = stop_feed.clone();
        move || {
            let mut feed = ItchFeed::new(session("TICKRAIL01"), 64, 4096, 4096);
            receiver.run(&rerequests, &mut feed, &mut (), &mut Taps::default(), &stop).unwrap();
            feed
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    close.store(true, Ordering::Relaxed);
    let stats = venue.join().unwrap();
    stop_feed.store(true, Ordering::Relaxed);
    let feed = feed.join().unwrap();
    assert!(stats.messages > 100, "{stats:?}");
    assert_eq!(feed.next_sequence(), stats.messages + 1, "every message arrived through the group");
}

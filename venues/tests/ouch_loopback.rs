//! Venue A's OUCH order entry over real loopback TCP: logins, an order's life, recovery of
//! missed messages after a disconnect, heartbeats and timeouts.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use feeds::book::Side as BookSide;
use feeds::itch_feed::{Action, ItchFeed};
use protocols::alpha;
use protocols::itch::stock;
use protocols::moldudp64::session;
use protocols::ouch42::{
    CancelOrder, CancelReason, EnterOrder, Inbound, OrderState, Outbound, ReplaceOrder, Side, Sweep, Token,
    TIF_MARKET_HOURS,
};
use protocols::ouch_client::{ClientConfig, ClientError, OuchClient};
use protocols::soupbintcp::{LoginRequest, Packet, RejectReason};
use protocols::soupbintcp_session::{SessionError, Timing};
use venues::flow::{MarketSpec, VenueSpec};
use venues::matching::Side as EngineSide;
use venues::ouch_server::{OuchServer, OuchServerConfig, OuchStats};
use venues::venue_a::ItchVenue;

const WAIT: Duration = Duration::from_secs(2);

fn timing() -> Timing {
    Timing { heartbeat_interval: Duration::from_millis(50), timeout: Duration::from_millis(400) }
}

/// A venue whose background flow is quiet enough that only the test's orders trade: its first
/// action comes after a minute.
fn quiet_venue() -> ItchVenue {
    let market = MarketSpec::equities(7, &[("AAPL", 1_900_000)]);
    let mut venue = ItchVenue::new(market, VenueSpec::new(1, 0.001), session("TICKRAIL01"));
    assert!(venue.step_until(60_000_000_000).is_empty(), "the flow stays quiet for a minute");
    venue
}

struct Running {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<(OuchStats, ItchVenue, Vec<Vec<u8>>)>,
}

impl Running {
    fn start(configure: impl FnOnce(&mut OuchServerConfig)) -> Self {
        let mut config = OuchServerConfig::loopback("TICKRAIL01", &[("ALICE", "pw-a"), ("BOB", "pw-b")]);
        config.timing = timing();
        configure(&mut config);
        let mut server = OuchServer::bind(config).unwrap();
        let addr = server.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut venue = quiet_venue();
            let mut packets = venue.open();
            let stats = server.run(&mut venue, &stop_flag, |p| packets.push(p.to_vec())).unwrap();
            (stats, venue, packets)
        });
        Self { addr, stop, thread }
    }

    fn stop(self) -> (OuchStats, ItchVenue, Vec<Vec<u8>>) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

fn config(username: &str, password: &str) -> ClientConfig {
    ClientConfig {
        username: username.into(),
        password: password.into(),
        session: String::new(),
        timing: timing(),
    }
}

fn token(text: &str) -> Token {
    alpha("order token", text).unwrap()
}

fn enter(name: &str, side: Side, shares: u32, price: u32) -> Inbound {
    Inbound::EnterOrder(EnterOrder::day_limit(token(name), side, shares, stock("AAPL"), price, *b"TRKR"))
}

/// The next `n` sequenced messages; fails if they do not come within the wait.
fn receive(client: &mut OuchClient, n: usize) -> Vec<(u64, Outbound)> {
    (0..n)
        .map(|i| client.recv(WAIT).unwrap().unwrap_or_else(|| panic!("message {i} of {n} did not come")))
        .collect()
}

#[test]
fn a_login_with_a_bad_password_is_rejected_as_not_authorized() {
    let server = Running::start(|_| {});
    let err = OuchClient::connect(server.addr, &config("ALICE", "wrong"), 1).unwrap_err();
    assert!(matches!(err, ClientError::Session(SessionError::LoginRejected(RejectReason::NotAuthorized))));
    assert_eq!(err.to_string(), "OUCH client: SoupBinTCP: login rejected: NotAuthorized");
    let err = OuchClient::connect(server.addr, &config("EVE", "pw-a"), 1).unwrap_err();
    assert!(matches!(err, ClientError::Session(SessionError::LoginRejected(RejectReason::NotAuthorized))));
    let alice = OuchClient::connect(server.addr, &config("alice", "pw-a"), 1).unwrap();
    let err = OuchClient::connect(server.addr, &config("ALICE", "pw-a"), 1).unwrap_err();
    assert!(matches!(
        err,
        ClientError::Session(SessionError::LoginRejected(RejectReason::SessionNotAvailable))
    ));
    drop(alice);
    let (stats, _, _) = server.stop();
    assert_eq!((stats.logins, stats.login_rejects), (1, 3));
}

#[test]
fn an_order_rests_is_replaced_behind_the_queue_partly_fills_and_is_canceled() {
    let server = Running::start(|_| {});
    let mut alice = OuchClient::connect(server.addr, &config("ALICE", "pw-a"), 1).unwrap();
    let mut bob = OuchClient::connect(server.addr, &config("BOB", "pw-b"), 1).unwrap();

    alice.send(&enter("A1", Side::Buy, 300, 1_899_900)).unwrap();
    alice.send(&enter("A2", Side::Buy, 100, 1_899_900)).unwrap();
    let accepted = receive(&mut alice, 2);
    let Outbound::Accepted(first) = accepted[0].1 else { panic!("{accepted:?}") };
    assert_eq!(
        (accepted[0].0, first.token, first.state, first.shares),
        (1, token("A1"), OrderState::Live, 300)
    );

    // Growing A1 sends it behind A2.
    alice
        .send(&Inbound::ReplaceOrder(ReplaceOrder {
            existing_token: token("A1"),
            replacement_token: token("A3"),
            shares: 400,
            price: 1_899_900,
            time_in_force: TIF_MARKET_HOURS,
            display: b'Y',
            sweep: Sweep::NotEligible,
            minimum_quantity: 0,
        }))
        .unwrap();
    let [(_, Outbound::Replaced { order, previous_token })] = receive(&mut alice, 1)[..] else { panic!() };
    assert_eq!((order.token, previous_token, order.shares), (token("A3"), token("A1"), 400));
    assert_ne!(order.order_ref, first.order_ref, "a new order at the back of the queue");

    // Bob sells 250: all of A2 (now first), then 150 of A3.
    bob.send(&enter("B1", Side::Sell, 250, 1_899_900)).unwrap();
    let bob_messages = receive(&mut bob, 3);
    assert!(matches!(bob_messages[0].1, Outbound::Accepted(o) if o.state == OrderState::Dead));
    let fills: Vec<(Token, u32)> = receive(&mut alice, 2)
        .into_iter()
        .map(|(_, m)| match m {
            Outbound::Executed {
                token,
                executed_shares,
                liquidity_flag: b'A',
                execution_price: 1_899_900,
                ..
            } => (token, executed_shares),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(fills, [(token("A2"), 100), (token("A3"), 150)]);

    alice.send(&Inbound::CancelOrder(CancelOrder { token: token("A3"), shares: 0 })).unwrap();
    let [(sequence, Outbound::Canceled { token: t, decrement_shares, reason, .. })] =
        receive(&mut alice, 1)[..]
    else {
        panic!()
    };
    assert_eq!((sequence, t, decrement_shares, reason), (6, token("A3"), 250, CancelReason::UserRequested));
    alice.logout().unwrap();
    bob.logout().unwrap();

    // The market data showed the same: the feed's book is the engine's, now empty.
    let (stats, venue, packets) = server.stop();
    let mut feed = ItchFeed::new(session("TICKRAIL01"), 64, 4096, 4096);
    for packet in &packets {
        assert_eq!(feed.on_packet(packet, 0, &mut ()), Action::None);
    }
    let book = feed.book(1).expect("AAPL traded");
    assert!(book.book().side(BookSide::Bid).is_empty() && venue.engine(0).levels(EngineSide::Buy).is_empty());
    assert_eq!((stats.orders.accepted, stats.orders.replaced, stats.orders.executions), (3, 1, 4));
}

#[test]
fn after_a_disconnect_a_login_from_the_next_sequence_gets_exactly_what_was_missed() {
    let server = Running::start(|_| {});
    let mut alice = OuchClient::connect(server.addr, &config("ALICE", "pw-a"), 1).unwrap();
    alice.send(&enter("A1", Side::Buy, 300, 1_899_900)).unwrap();
    receive(&mut alice, 1);
    let next = alice.next_sequence();
    drop(alice);

    // While Alice is away Bob trades with her order twice.
    let mut bob = OuchClient::connect(server.addr, &config("BOB", "pw-b"), 1).unwrap();
    bob.send(&enter("B1", Side::Sell, 100, 1_899_900)).unwrap();
    bob.send(&enter("B2", Side::Sell, 50, 1_899_900)).unwrap();
    receive(&mut bob, 4);

    let deadline = Instant::now() + WAIT;
    let mut alice = loop {
        // The server may not have seen the old connection close yet.
        match OuchClient::connect(server.addr, &config("ALICE", "pw-a"), next) {
            Ok(client) => break client,
            Err(ClientError::Session(SessionError::LoginRejected(RejectReason::SessionNotAvailable)))
                if Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => panic!("{e}"),
        }
    };
    let missed = receive(&mut alice, 2);
    let fills: Vec<(u64, u32)> = missed
        .iter()
        .map(|(sequence, m)| match *m {
            Outbound::Executed { executed_shares, .. } => (*sequence, executed_shares),
            ref other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(fills, [(2, 100), (3, 50)]);
    assert_eq!(alice.recv(Duration::from_millis(100)).unwrap(), None, "nothing twice");
    server.stop();
}

#[test]
fn a_client_forced_off_after_every_two_messages_still_sees_each_message_once() {
    let server = Running::start(|config| config.disconnect_after = Some(2));
    let mut alice = OuchClient::connect(server.addr, &config("ALICE", "pw-a"), 1).unwrap();
    for i in 0..7 {
        alice.send(&enter(&format!("A{i}"), Side::Buy, 100, 1_899_900 - 100 * i)).unwrap();
    }
    let mut received = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while received.len() < 7 && Instant::now() < deadline {
        match alice.recv(WAIT) {
            Ok(Some((sequence, message))) => received.push((sequence, *message.token().unwrap())),
            Ok(None) => panic!("no message and no disconnect"),
            Err(ClientError::Closed | ClientError::Io(_)) => {
                let next = alice.next_sequence();
                alice = loop {
                    match OuchClient::connect(server.addr, &config("ALICE", "pw-a"), next) {
                        Ok(client) => break client,
                        Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                        Err(e) => panic!("{e}"),
                    }
                };
            }
            Err(e) => panic!("{e}"),
        }
    }
    let expected: Vec<(u64, Token)> = (0..7).map(|i| (i as u64 + 1, token(&format!("A{i}")))).collect();
    assert_eq!(received, expected);
    let (stats, _, _) = server.stop();
    assert!(stats.forced_disconnects >= 3, "{stats:?}");
}

#[test]
fn heartbeats_keep_an_idle_session_alive() {
    let server = Running::start(|_| {});
    let mut alice = OuchClient::connect(server.addr, &config("ALICE", "pw-a"), 1).unwrap();
    // Three timeouts of silence on the application level.
    assert_eq!(alice.recv(timing().timeout * 3).unwrap(), None);
    alice.send(&enter("A1", Side::Buy, 100, 1_899_900)).unwrap();
    assert!(matches!(receive(&mut alice, 1)[..], [(1, Outbound::Accepted(_))]));
    let (stats, _, _) = server.stop();
    assert_eq!(stats.timeouts, 0);
}

#[test]
fn a_silent_client_is_timed_out() {
    let server = Running::start(|_| {});
    let mut raw = TcpStream::connect(server.addr).unwrap();
    let mut login = Vec::new();
    Packet::LoginRequest(LoginRequest {
        username: alpha("username", "ALICE").unwrap(),
        password: alpha("password", "pw-a").unwrap(),
        session: [b' '; 10],
        sequence: 1,
    })
    .encode(&mut login)
    .unwrap();
    raw.write_all(&login).unwrap();
    // Read (and never answer) until the server hangs up.
    raw.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let start = Instant::now();
    let mut received = Vec::new();
    let mut chunk = [0u8; 256];
    loop {
        assert!(start.elapsed() < Duration::from_secs(3), "the server never timed the client out");
        match raw.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    assert!(start.elapsed() >= timing().timeout, "not before the timeout");
    let heartbeats = received.windows(3).filter(|w| *w == [0, 1, b'H']).count();
    assert!(heartbeats >= 3, "the server heartbeated while waiting ({heartbeats})");
    let (stats, _, _) = server.stop();
    assert_eq!(stats.timeouts, 1);
}

#[test]
fn a_message_that_is_not_ouch_gets_a_debug_answer_and_the_session_goes_on() {
    let server = Running::start(|_| {});
    let mut raw = TcpStream::connect(server.addr).unwrap();
    let mut bytes = Vec::new();
    Packet::LoginRequest(LoginRequest {
        username: alpha("username", "BOB").unwrap(),
        password: alpha("password", "pw-b").unwrap(),
        session: [b' '; 10],
        sequence: 1,
    })
    .encode(&mut bytes)
    .unwrap();
    Packet::UnsequencedData(b"Qjunk").encode(&mut bytes).unwrap();
    raw.write_all(&bytes).unwrap();
    raw.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let mut received = Vec::new();
    let mut chunk = [0u8; 256];
    let start = Instant::now();
    while !String::from_utf8_lossy(&received).contains("unknown message type") {
        assert!(start.elapsed() < WAIT, "no debug answer: {received:?}");
        if let Ok(n) = raw.read(&mut chunk) {
            received.extend_from_slice(&chunk[..n]);
        }
    }
    drop(raw);
    let (stats, _, _) = server.stop();
    assert_eq!((stats.bad_messages, stats.protocol_errors), (1, 0));
}

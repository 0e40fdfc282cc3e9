//! What the gateway and engine tests share: a simulated venue's server running on a thread of
//! its own until the test stops it, and a relay ([`proxy`]) that can hold and cut a connection.

// Each test file uses the part it needs.
#![allow(dead_code)]

pub mod proxy;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use protocols::moldudp64::session;
use protocols::soupbintcp_session::Timing;
use venues::flow::{MarketSpec, VenueSpec};
use venues::ouch_server::{OuchServer, OuchServerConfig};
use venues::venue_a::ItchVenue;

/// A venue server on its thread; clients reach it at `addr`.
pub struct Venue {
    /// Where its clients connect.
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Venue {
    /// Runs `serve` (a server's loop, given the flag that stops it) on a thread.
    pub fn run(addr: SocketAddr, serve: impl FnOnce(&AtomicBool) + Send + 'static) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || serve(&flag));
        Self { addr, stop, thread }
    }

    /// Venue A's OUCH order entry for `users`, its flow quiet for a minute so only the test's
    /// orders trade; with `disconnect_after`, each client is cut off after that many messages.
    pub fn ouch(users: &[(&str, &str)], timing: Timing, disconnect_after: Option<u64>) -> Self {
        let mut config = OuchServerConfig::loopback("TICKRAIL01", users);
        config.timing = timing;
        config.disconnect_after = disconnect_after;
        let mut server = OuchServer::bind(config).unwrap();
        let addr = server.local_addr().unwrap();
        Self::run(addr, move |stop| {
            let market = MarketSpec::equities(7, &[("AAPL", 1_900_000)]);
            let mut venue = ItchVenue::new(market, VenueSpec::new(1, 0.001), session("TICKRAIL01"));
            assert!(venue.step_until(60_000_000_000).is_empty(), "the flow stays quiet for a minute");
            venue.open();
            server.run(&mut venue, stop, |_| {}).unwrap();
        })
    }

    /// Stops the server and waits for its thread.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Release);
        self.thread.join().unwrap();
    }
}

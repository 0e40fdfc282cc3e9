//! A TCP relay between a gateway and a venue that a test can hold and cut: what the venue
//! sends while held stays in the relay, and a cut closes both sides at once, dropping it, as a
//! connection that dies with messages in flight.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a relay thread waits on one socket before looking at the other and its flags.
const POLL: Duration = Duration::from_millis(1);

#[derive(Default)]
struct Flags {
    /// Stop passing on what the venue sends.
    hold: AtomicBool,
    /// Bumped by each cut: connections opened before it end.
    cuts: AtomicU64,
    stop: AtomicBool,
}

/// A relay to one venue address; clients connect to `addr`.
pub struct Proxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    flags: Arc<Flags>,
    thread: JoinHandle<()>,
}

impl Proxy {
    /// Relays every connection made to a free loopback port to `venue`.
    pub fn start(venue: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let flags = Arc::new(Flags::default());
        let shared = Arc::clone(&flags);
        let thread = std::thread::spawn(move || {
            let mut relays = Vec::new();
            while !shared.stop.load(Ordering::Acquire) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let flags = Arc::clone(&shared);
                        relays.push(std::thread::spawn(move || relay(client, venue, &flags)));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(POLL),
                    Err(e) => panic!("proxy: {e}"),
                }
            }
            relays.into_iter().for_each(|r| r.join().unwrap());
        });
        Self { addr, flags, thread }
    }

    /// Stops (or resumes) passing on what the venue sends.
    pub fn hold(&self, hold: bool) {
        self.flags.hold.store(hold, Ordering::Release);
    }

    /// Closes every connection open now, both sides, dropping what is held; later connections
    /// are relayed (and not held).
    pub fn cut(&self) {
        // The cut first: a relay that sees the hold lifted sees the cut too.
        self.flags.cuts.fetch_add(1, Ordering::AcqRel);
        self.flags.hold.store(false, Ordering::Release);
    }

    /// Closes everything and waits for the relay's threads.
    pub fn stop(self) {
        self.flags.stop.store(true, Ordering::Release);
        self.thread.join().unwrap();
    }
}

/// Passes bytes both ways until either side closes, a cut, or a stop.
fn relay(client: TcpStream, venue: SocketAddr, flags: &Flags) {
    let generation = flags.cuts.load(Ordering::Acquire);
    let mut streams = [client, TcpStream::connect(venue).unwrap()];
    for stream in &streams {
        stream.set_read_timeout(Some(POLL)).unwrap();
        stream.set_nodelay(true).unwrap();
    }
    let mut buf = [0u8; 16 << 10];
    'relay: while !flags.stop.load(Ordering::Acquire) && flags.cuts.load(Ordering::Acquire) == generation {
        for from in 0..2 {
            // Side 1 is the venue: held, its bytes wait in the socket (and a cut drops them).
            let held = flags.hold.load(Ordering::Acquire) || flags.cuts.load(Ordering::Acquire) != generation;
            if from == 1 && held {
                std::thread::sleep(POLL);
                continue;
            }
            let n = match streams[from].read(&mut buf) {
                Ok(0) => break 'relay,
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) =>
                {
                    continue
                }
                Err(_) => break 'relay,
            };
            if streams[1 - from].write_all(&buf[..n]).is_err() {
                break 'relay;
            }
        }
    }
    for stream in &mut streams {
        let _ = stream.shutdown(Shutdown::Both);
    }
}

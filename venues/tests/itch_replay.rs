//! Record and replay: what a feed received (lost, duplicated and re-requested packets included)
//! is recorded with its receive times; replaying the recording through a fresh handler gives
//! the same books and publishes the very same updates, in the same order.

use std::collections::VecDeque;

use feeds::book::{Book, LevelChange, Side as BookSide};
use feeds::itch_feed::{Action, ItchFeed};
use feeds::recording::{Recorder, Replay};
use feeds::sink::{BookSink, Stamps};
use protocols::moldudp64::session;
use venues::flow::{MarketSpec, VenueSpec};
use venues::venue_a::ItchVenue;

/// Everything a feed published, in order.
#[derive(Debug, Default, PartialEq)]
struct Log {
    entries: Vec<String>,
}

impl BookSink for Log {
    fn level(&mut self, instrument: u32, change: &LevelChange, stamps: &Stamps) -> shm_layout::ShmResult<()> {
        self.entries.push(format!("{instrument} {change:?} {stamps:?}"));
        Ok(())
    }

    fn book(
        &mut self,
        instrument: u32,
        book: &Book,
        stale: bool,
        stamps: &Stamps,
    ) -> shm_layout::ShmResult<()> {
        let best = (book.side(BookSide::Bid).best().copied(), book.side(BookSide::Ask).best().copied());
        self.entries.push(format!("{instrument} top {best:?} stale={stale} {stamps:?}"));
        Ok(())
    }
}

fn venue() -> ItchVenue {
    ItchVenue::new(
        MarketSpec::equities(5, &[("AAPL", 1_900_000), ("SPY", 5_600_000)]),
        VenueSpec::new(1, 50_000.0),
        session("TICKRAIL01"),
    )
}

#[test]
fn a_replayed_recording_rebuilds_the_same_books_and_publishes_the_same_updates() {
    let path = std::env::temp_dir().join(format!("tickrail-itch-replay-{}.bin", std::process::id()));
    let mut venue = venue();
    let mut live = ItchFeed::new(session("TICKRAIL01"), 64, 4096, 4096);
    let mut live_log = Log::default();
    let mut recorder = Recorder::create(&path).unwrap();
    let mut clock = 1_000u64;
    let mut inbox: VecDeque<Vec<u8>> = venue.open().into();
    for round in 0..200 {
        // Every sixth packet is lost and every sixth arrives twice.
        for (i, packet) in venue.step(100).into_iter().enumerate() {
            match (round + i) % 6 {
                2 => {}
                4 => inbox.extend([packet.clone(), packet]),
                _ => inbox.push_back(packet),
            }
        }
        while let Some(packet) = inbox.pop_front() {
            clock += 7;
            recorder.record(clock, &packet).unwrap();
            if let Action::Rerequest(request) = live.on_packet(&packet, clock, &mut live_log) {
                inbox.extend(venue.serve(&request));
            }
        }
    }
    recorder.finish().unwrap();
    assert!(live.counters().gaps > 0, "the run lost packets and recovered them");

    let mut replayed = ItchFeed::new(session("TICKRAIL01"), 64, 4096, 4096);
    let mut replay_log = Log::default();
    let mut replay = Replay::open(&path).unwrap();
    while let Some(frame) = replay.next_frame().unwrap() {
        replayed.on_packet(&frame.bytes, frame.receive_ts_ns, &mut replay_log);
    }
    std::fs::remove_file(&path).unwrap();
    assert_eq!(replayed.counters(), live.counters());
    assert_eq!(replay_log.entries.len(), live_log.entries.len());
    assert!(replay_log == live_log, "the replay published exactly what the live run did");
    for locate in 1..=2 {
        let (a, b) = (live.book(locate).unwrap().book(), replayed.book(locate).unwrap().book());
        for side in [BookSide::Bid, BookSide::Ask] {
            assert!(a.side(side).iter().eq(b.side(side).iter()), "instrument {locate} {side:?}");
        }
    }
}

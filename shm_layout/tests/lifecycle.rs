//! Segment lifecycle through the public API: creation, validation on open, roles, stats.

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};

use shm_layout::{
    broadcast, queue, slots, Expected, Received, RingGeometry, SegmentInfo, SegmentKind, SegmentOptions,
    SegmentStats, ShmError, LAYOUT_VERSION,
};

/// Unlinks the test's segment however the test ends.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = shm_layout::unlink(&self.0);
    }
}

fn name(test: &str) -> (String, Cleanup) {
    let name = format!("/shm_layout-it-{test}-{}", std::process::id());
    (name.clone(), Cleanup(name))
}

fn ring(name: &str) -> broadcast::Writer {
    let geometry = RingGeometry { capacity: 16, max_message_size: 32, max_readers: 2 };
    broadcast::Writer::create(name, geometry, &SegmentOptions::default()).unwrap()
}

fn patch(name: &str, offset: u64, bytes: &[u8]) {
    let mut file = OpenOptions::new().write(true).open(format!("/dev/shm{name}")).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.write_all(bytes).unwrap();
}

#[test]
fn a_ring_describes_itself_and_counts_what_it_carries() {
    let (name, _cleanup) = name("describe");
    let mut writer = ring(&name);
    let mut reader = broadcast::Reader::attach(&name, broadcast::StartAt::Latest).unwrap();
    for _ in 0..20 {
        writer.publish(b"tick").unwrap();
    }
    let mut buf = [0u8; 32];
    assert_eq!(reader.try_read(&mut buf).unwrap(), Received::Lost { count: 4 });
    let info = SegmentInfo::read(&name).unwrap();
    assert_eq!((info.kind, info.layout_version, info.capacity), (SegmentKind::Broadcast, LAYOUT_VERSION, 16));
    assert!(info.creator_alive);
    let stats = SegmentStats::read(&name).unwrap();
    assert_eq!((stats.published, stats.lost(), stats.overruns()), (20, 4, 1));
    assert_eq!(stats.readers[0].lag, 16);
    assert!(stats.writer_alive);
}

#[test]
fn opening_checks_existence_kind_version_readiness_checksum_and_size() {
    let (name, _cleanup) = name("validate");
    assert!(matches!(queue::Reader::attach(&name), Err(ShmError::NotFound { .. })));
    drop(ring(&name));
    assert!(matches!(queue::Reader::attach(&name), Err(ShmError::KindMismatch { .. })));
    assert!(matches!(slots::Reader::open(&name), Err(ShmError::KindMismatch { .. })));

    patch(&name, 8, &(LAYOUT_VERSION + 1).to_le_bytes());
    let err = broadcast::Writer::attach(&name).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "segment {name}: layout version {}, this build reads version {LAYOUT_VERSION}",
            LAYOUT_VERSION + 1
        )
    );
    patch(&name, 8, &LAYOUT_VERSION.to_le_bytes());

    patch(&name, 80, &0u32.to_le_bytes());
    assert!(matches!(SegmentInfo::read(&name), Err(ShmError::NotReady { .. })));
    patch(&name, 80, &0x5245_4459u32.to_le_bytes());

    patch(&name, 32, &3u32.to_le_bytes());
    assert!(matches!(SegmentInfo::read(&name), Err(ShmError::Corrupt { .. })));
    patch(&name, 32, &2u32.to_le_bytes());
    assert!(SegmentInfo::read(&name).is_ok());

    OpenOptions::new().write(true).open(format!("/dev/shm{name}")).unwrap().set_len(1000).unwrap();
    assert!(matches!(SegmentInfo::read(&name), Err(ShmError::Truncated { size: 1000, .. })));
}

#[test]
fn a_handle_may_require_the_geometry_it_was_built_for() {
    let (name, _cleanup) = name("expect");
    drop(ring(&name));
    let reader = broadcast::Reader::attach(&name, broadcast::StartAt::Latest).unwrap();
    let wrong = Expected { max_message_size: Some(64), ..Expected::default() };
    let err = reader.expect(&wrong).unwrap_err();
    assert_eq!(err.to_string(), format!("segment {name}: max_message_size is 32, expected 64"));
    let right = Expected { capacity: Some(16), max_message_size: Some(32) };
    assert!(broadcast::Writer::attach(&name).unwrap().expect(&right).is_ok());
}

#[test]
fn each_role_has_one_live_holder() {
    let (name, _cleanup) = name("roles");
    let writer = ring(&name);
    assert!(matches!(broadcast::Writer::attach(&name), Err(ShmError::WriterActive { .. })));
    let readers: Vec<_> =
        (0..2).map(|_| broadcast::Reader::attach(&name, broadcast::StartAt::Latest).unwrap()).collect();
    assert!(matches!(
        broadcast::Reader::attach(&name, broadcast::StartAt::Latest),
        Err(ShmError::NoFreeReader { max_readers: 2, .. })
    ));
    drop(readers);
    drop(writer);
    assert!(broadcast::Writer::attach(&name).is_ok());
}

#[test]
fn a_queue_pushes_back_when_full_and_its_reader_resumes() {
    let (name, _cleanup) = name("queue");
    let mut writer = queue::Writer::create(&name, 4, 8, &SegmentOptions::default()).unwrap();
    for i in 0..4u8 {
        assert!(writer.try_push(&[i]).unwrap());
    }
    assert!(!writer.try_push(&[4]).unwrap());
    let mut buf = [0u8; 8];
    {
        let mut reader = queue::Reader::attach(&name).unwrap();
        assert_eq!(reader.try_pop(&mut buf).unwrap(), Received::Message { seq: 0, len: 1 });
    }
    let mut reader = queue::Reader::attach(&name).unwrap();
    assert_eq!(reader.cursor(), 1);
    assert!(writer.try_push(&[4]).unwrap());
    for seq in 1..5 {
        assert_eq!(reader.try_pop(&mut buf).unwrap(), Received::Message { seq, len: 1 });
        assert_eq!(u64::from(buf[0]), seq);
    }
    assert_eq!(reader.try_pop(&mut buf).unwrap(), Received::Empty);
    assert_eq!(SegmentStats::read(&name).unwrap().backpressure_events, 1);
}

#[test]
fn slots_hold_the_latest_record_per_key() {
    let (name, _cleanup) = name("slots");
    let mut writer = slots::Writer::create(&name, 2, 8, &SegmentOptions::default()).unwrap();
    let reader = slots::Reader::open(&name).unwrap();
    let mut out = [0u8; 8];
    assert_eq!(reader.read(0, &mut out).unwrap(), None);
    writer.write(0, b"first!!!").unwrap();
    writer.write(0, b"second!!").unwrap();
    assert_eq!(reader.read(0, &mut out).unwrap(), Some(4));
    assert_eq!(&out, b"second!!");
    assert!(matches!(writer.write(2, b"12345678"), Err(ShmError::KeyOutOfRange { key: 2, capacity: 2, .. })));
    assert!(matches!(reader.read(0, &mut [0u8; 4]), Err(ShmError::GeometryMismatch { .. })));
    let attached = reader.writer_heartbeat_ns();
    assert!(attached > 0, "attaching is the writer's first sign of life");
    std::thread::sleep(std::time::Duration::from_millis(1));
    writer.heartbeat();
    assert!(reader.writer_heartbeat_ns() > attached, "a reader sees the writer's heartbeat");
}

#[test]
fn creating_over_a_live_segment_is_refused() {
    let (name, _cleanup) = name("exists");
    drop(ring(&name));
    let geometry = RingGeometry { capacity: 16, max_message_size: 32, max_readers: 2 };
    let options = SegmentOptions { replace_stale: true, ..SegmentOptions::default() };
    assert!(matches!(
        broadcast::Writer::create(&name, geometry, &options),
        Err(ShmError::AlreadyExists { .. })
    ));
    assert!(!shm_layout::remove_if_stale(&name).unwrap(), "our own segment is not stale");
}

//! Recording what a feed received, and replaying it through the same handler.
//!
//! A recording is a file of frames, each `[length: u32][receive time: u64][bytes]`
//! (little-endian), after an 8-byte magic `TRREC001`. Replaying feeds the frames to the
//! handler in order, with their recorded receive times, so the books it builds (and everything
//! it publishes) are those of the live run.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// The first bytes of every recording.
pub const MAGIC: &[u8; 8] = b"TRREC001";

/// The largest frame a recording may hold (a UDP datagram is at most 64 KiB).
const MAX_FRAME: usize = 1 << 20;

/// One received datagram or message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// When it was received, Unix nanoseconds.
    pub receive_ts_ns: u64,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// The frames of a whole recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frames {
    /// Every whole frame, in order.
    pub frames: Vec<Frame>,
    /// Why the recording ended early, if it was cut short mid-frame.
    pub cut: Option<String>,
}

/// Appends frames to a recording file.
#[derive(Debug)]
pub struct Recorder {
    out: BufWriter<File>,
    frames: u64,
}

impl Recorder {
    /// Creates (or truncates) the recording at `path`.
    pub fn create(path: &Path) -> io::Result<Self> {
        let mut out = BufWriter::new(File::create(path)?);
        out.write_all(MAGIC)?;
        Ok(Self { out, frames: 0 })
    }

    /// Records one frame.
    pub fn record(&mut self, receive_ts_ns: u64, bytes: &[u8]) -> io::Result<()> {
        if bytes.len() > MAX_FRAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a frame of {} bytes", bytes.len()),
            ));
        }
        self.out.write_all(&(bytes.len() as u32).to_le_bytes())?;
        self.out.write_all(&receive_ts_ns.to_le_bytes())?;
        self.out.write_all(bytes)?;
        self.frames += 1;
        Ok(())
    }

    /// Frames recorded so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Flushes everything to the file.
    pub fn finish(mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Reads the frames of a recording in order.
#[derive(Debug)]
pub struct Replay {
    input: BufReader<File>,
    path: String,
}

impl Replay {
    /// Opens the recording at `path`, checking its magic.
    pub fn open(path: &Path) -> io::Result<Self> {
        let mut input = BufReader::new(File::open(path)?);
        let mut magic = [0u8; 8];
        input.read_exact(&mut magic).map_err(|_| invalid(path, "shorter than its magic"))?;
        if &magic != MAGIC {
            return Err(invalid(path, "not a tickrail recording (bad magic)"));
        }
        Ok(Self { input, path: path.display().to_string() })
    }

    /// The next frame, `None` at the end; a frame cut short (a recorder that was killed) or one
    /// with an impossible length is an error naming the file.
    pub fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        let mut head = [0u8; 12];
        match self.input.read(&mut head[..1])? {
            0 => return Ok(None),
            _ => self.input.read_exact(&mut head[1..]).map_err(|_| self.cut("a frame header"))?,
        }
        let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as usize;
        if len > MAX_FRAME {
            return Err(invalid(Path::new(&self.path), &format!("a frame claims {len} bytes")));
        }
        let receive_ts_ns = u64::from_le_bytes(head[4..].try_into().expect("8 bytes"));
        let mut bytes = vec![0u8; len];
        self.input.read_exact(&mut bytes).map_err(|_| self.cut("a frame"))?;
        Ok(Some(Frame { receive_ts_ns, bytes }))
    }

    /// Every remaining frame, in order (for replays timed without the file in the way). A
    /// recording cut short (its recorder was killed mid-frame) gives the whole frames before
    /// the cut, and says so in [`Frames::cut`]; any other failure is an error.
    pub fn read_all(&mut self) -> io::Result<Frames> {
        let mut frames = Vec::new();
        loop {
            match self.next_frame() {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => return Ok(Frames { frames, cut: None }),
                Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
                    return Ok(Frames { frames, cut: Some(error.to_string()) })
                }
                Err(error) => return Err(error),
            }
        }
    }

    fn cut(&self, what: &str) -> io::Error {
        let path = Path::new(&self.path).display();
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("recording {path}: ends in the middle of {what}"),
        )
    }
}

/// How fast a replay feeds its frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// Each frame as soon as the last is done.
    AsFastAsPossible,
    /// The recorded gaps between frames, divided by `speed` (1.0: as recorded).
    Recorded {
        /// How many times faster than recorded.
        speed: f64,
    },
}

/// Holds a replay to its [`Pace`]: [`Pacer::wait`] returns when a frame is due.
#[derive(Debug)]
pub struct Pacer {
    pace: Pace,
    start: Option<(u64, Instant)>,
}

impl Pacer {
    /// A pacer for a replay starting now.
    pub fn new(pace: Pace) -> Self {
        Self { pace, start: None }
    }

    /// Waits (sleeping) until the frame received at `receive_ts_ns` is due: the first frame at
    /// once, each later one its recorded distance from the first (scaled by the speed).
    pub fn wait(&mut self, receive_ts_ns: u64) {
        let Pace::Recorded { speed } = self.pace else { return };
        let (first_ts, started) = *self.start.get_or_insert((receive_ts_ns, Instant::now()));
        let offset = receive_ts_ns.saturating_sub(first_ts) as f64 / speed.max(f64::MIN_POSITIVE);
        let due = started + Duration::from_nanos(offset as u64);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
    }
}

fn invalid(path: &Path, detail: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("recording {}: {detail}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(test: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("tickrail-recording-{test}-{}.bin", std::process::id()))
    }

    #[test]
    fn frames_come_back_in_order_with_their_times() {
        let p = path("order");
        let mut recorder = Recorder::create(&p).unwrap();
        recorder.record(5, b"first").unwrap();
        recorder.record(9, b"").unwrap();
        assert_eq!(recorder.frames(), 2);
        recorder.finish().unwrap();
        let mut replay = Replay::open(&p).unwrap();
        assert_eq!(replay.next_frame().unwrap(), Some(Frame { receive_ts_ns: 5, bytes: b"first".to_vec() }));
        assert_eq!(replay.next_frame().unwrap(), Some(Frame { receive_ts_ns: 9, bytes: vec![] }));
        assert_eq!(replay.next_frame().unwrap(), None);
        std::fs::remove_file(p).unwrap();
    }

    #[test]
    fn a_paced_replay_keeps_the_recorded_gaps_scaled_by_its_speed() {
        let mut pacer = Pacer::new(Pace::Recorded { speed: 2.0 });
        let started = Instant::now();
        for ts in [1_000_000_000, 1_020_000_000, 1_060_000_000] {
            pacer.wait(ts);
        }
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(30), "60 ms recorded at twice the speed: {took:?}");
        let mut fast = Pacer::new(Pace::AsFastAsPossible);
        let started = Instant::now();
        fast.wait(0);
        fast.wait(u64::MAX / 2);
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn a_foreign_or_cut_recording_is_refused_by_name() {
        let p = path("bad");
        std::fs::write(&p, b"NOTOURS!").unwrap();
        let err = Replay::open(&p).unwrap_err().to_string();
        assert!(err.contains("not a tickrail recording") && err.contains(&p.display().to_string()), "{err}");
        let mut recorder = Recorder::create(&p).unwrap();
        recorder.record(1, b"whole").unwrap();
        recorder.finish().unwrap();
        let mut bytes = std::fs::read(&p).unwrap();
        bytes.truncate(bytes.len() - 2);
        std::fs::write(&p, &bytes).unwrap();
        let mut replay = Replay::open(&p).unwrap();
        assert!(replay.next_frame().unwrap_err().to_string().contains("ends in the middle of a frame"));
        let mut recorder = Recorder::create(&p).unwrap();
        recorder.record(1, b"whole").unwrap();
        recorder.record(2, b"cut short").unwrap();
        recorder.finish().unwrap();
        let mut bytes = std::fs::read(&p).unwrap();
        bytes.truncate(bytes.len() - 2);
        std::fs::write(&p, &bytes).unwrap();
        let all = Replay::open(&p).unwrap().read_all().unwrap();
        assert_eq!(
            all.frames,
            [Frame { receive_ts_ns: 1, bytes: b"whole".to_vec() }],
            "the whole frames are kept"
        );
        assert!(all.cut.unwrap().contains("ends in the middle of a frame"));
        std::fs::remove_file(p).unwrap();
    }
}

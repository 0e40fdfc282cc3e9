//! The audit journal: every order we send, every cancel and replace we ask for, and every
//! report a venue sends, appended to a file in the order they happened, so a restarted
//! execution worker rebuilds its OMS (and its positions) from it and an auditor reads the day.
//!
//! A file starts with [`MAGIC`]; each entry is its payload's length (`u32`), the payload's
//! CRC-32 (`u32`), then the payload, little-endian. A crash can leave the last entry cut short:
//! reading stops there, says so, and appending goes on after the last whole entry. An entry
//! that is whole but fails its CRC is corruption, and reading refuses the file, naming where.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use risk::{NewOrder, Side};

use crate::gateway::{self, VenueReport};
use crate::oms::{Oms, OmsError, Replacement, Report};

/// The first bytes of a journal.
pub const MAGIC: &[u8; 8] = b"TRJRNL01";
/// The longest payload an entry has.
const MAX_PAYLOAD: usize = 128;

/// One thing that happened to our orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// We sent a new order.
    Sent(NewOrder),
    /// We asked for order `0` to be cancelled.
    CancelRequested(u64),
    /// We asked for order `0` to be replaced.
    ReplaceRequested(u64, Replacement),
    /// A venue reported on an order.
    Report(VenueReport),
    /// A report from venue `1`, whose session has delivered everything before sequence `2`
    /// (OUCH) once it is applied: one entry, so a restarted worker logs on again from exactly
    /// after the last report it applied: nothing twice, nothing missed.
    Sequenced(VenueReport, usize, u64),
}

/// Why a journal cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The file could not be read or written.
    #[error("journal {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// The file is not a journal.
    #[error("journal {0}: not a tickrail journal (bad magic)")]
    NotAJournal(PathBuf),
    /// A whole entry fails its check.
    #[error("journal {path}: the entry at byte {offset} is corrupt ({what})")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where the entry starts.
        offset: u64,
        /// What is wrong.
        what: &'static str,
    },
}

/// What reading a journal found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contents {
    /// Every whole entry, in order.
    pub entries: Vec<Entry>,
    /// Where the whole entries end (appending goes on from here).
    pub end: u64,
    /// Bytes of a last entry cut short by a crash, if any (left out).
    pub torn: u64,
}

fn side_code(side: Side) -> u8 {
    match side {
        Side::Buy => 1,
        Side::Sell => 2,
    }
}

fn put_order(put: &mut dyn FnMut(&[u8]), o: &NewOrder) {
    put(&o.id.to_le_bytes());
    put(&(o.venue as u8).to_le_bytes());
    put(&o.instrument.to_le_bytes());
    put(&[side_code(o.side)]);
    put(&o.price.to_le_bytes());
    put(&o.quantity.to_le_bytes());
}

fn put_report(put: &mut dyn FnMut(&[u8]), report: &VenueReport) {
    put(&report.id.to_le_bytes());
    let (kind, quantity, price) = match report.report {
        Report::Accepted => (b'a', 0, 0),
        Report::Rejected => (b'j', 0, 0),
        Report::Fill { quantity, price } => (b'f', quantity, price),
        Report::Canceled => (b'c', 0, 0),
        Report::CancelRejected => (b'i', 0, 0),
        Report::Replaced => (b'u', 0, 0),
        Report::ReplaceRejected => (b'k', 0, 0),
        Report::Expired => (b'e', 0, 0),
    };
    put(&[kind]);
    put(&quantity.to_le_bytes());
    put(&price.to_le_bytes());
    match &report.order {
        Some(o) => {
            put(&[1]);
            put_order(put, o);
        }
        None => put(&[0]),
    }
}

/// An entry's payload, written into `out`; its length.
fn encode(entry: &Entry, out: &mut [u8; MAX_PAYLOAD]) -> usize {
    let mut at = 0;
    let mut put = |bytes: &[u8]| {
        out[at..at + bytes.len()].copy_from_slice(bytes);
        at += bytes.len();
    };
    match entry {
        Entry::Sent(o) => {
            put(b"S");
            put_order(&mut put, o);
        }
        Entry::CancelRequested(id) => {
            put(b"C");
            put(&id.to_le_bytes());
        }
        Entry::ReplaceRequested(id, r) => {
            put(b"R");
            put(&id.to_le_bytes());
            put(&r.id.to_le_bytes());
            put(&r.price.to_le_bytes());
            put(&r.quantity.to_le_bytes());
        }
        Entry::Report(report) => {
            put(b"V");
            put_report(&mut put, report);
        }
        Entry::Sequenced(report, venue, next) => {
            put(b"Q");
            put_report(&mut put, report);
            put(&(*venue as u8).to_le_bytes());
            put(&next.to_le_bytes());
        }
    }
    at
}

/// Reads fields off a payload; `None` when it runs out or holds a bad code.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_le_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.take().map(i64::from_le_bytes)
    }
    fn order(&mut self) -> Option<NewOrder> {
        Some(NewOrder {
            id: self.u64()?,
            venue: usize::from(self.u8()?),
            instrument: self.u32()?,
            side: match self.u8()? {
                1 => Side::Buy,
                2 => Side::Sell,
                _ => return None,
            },
            price: self.i64()?,
            quantity: self.i64()?,
        })
    }

    fn report(&mut self) -> Option<VenueReport> {
        let id = self.u64()?;
        let kind = self.u8()?;
        let (quantity, price) = (self.i64()?, self.i64()?);
        let report = match kind {
            b'a' => Report::Accepted,
            b'j' => Report::Rejected,
            b'f' => Report::Fill { quantity, price },
            b'c' => Report::Canceled,
            b'i' => Report::CancelRejected,
            b'u' => Report::Replaced,
            b'k' => Report::ReplaceRejected,
            b'e' => Report::Expired,
            _ => return None,
        };
        let order = match self.u8()? {
            0 => None,
            1 => Some(self.order()?),
            _ => return None,
        };
        Some(VenueReport { id, report, order })
    }
}

fn decode(payload: &[u8]) -> Option<Entry> {
    let mut f = Fields(payload);
    let entry = match f.u8()? {
        b'S' => Entry::Sent(f.order()?),
        b'C' => Entry::CancelRequested(f.u64()?),

        b'R' => Entry::ReplaceRequested(
            f.u64()?,
            Replacement { id: f.u64()?, price: f.i64()?, quantity: f.i64()? },
        ),
        b'V' => Entry::Report(f.report()?),
        b'Q' => Entry::Sequenced(f.report()?, usize::from(f.u8()?), f.u64()?),
        _ => return None,
    };
    f.0.is_empty().then_some(entry)
}

/// The sequence venue `venue`'s session had delivered up to, by the journal (1: nothing yet).
pub fn delivered(entries: &[Entry], venue: usize) -> u64 {
    entries
        .iter()
        .rev()
        .find_map(|e| match e {
            Entry::Sequenced(_, v, next) if *v == venue => Some(*next),
            _ => None,
        })
        .unwrap_or(1)
}

/// Reads the journal at `path`: every whole entry, and whether a last one was cut short.
pub fn read(path: &Path) -> Result<Contents, JournalError> {
    let io = |source| JournalError::Io { path: path.to_owned(), source };
    let mut bytes = Vec::new();
    File::open(path).and_then(|mut f| f.read_to_end(&mut bytes)).map_err(io)?;
    if !bytes.starts_with(MAGIC) {
        return Err(JournalError::NotAJournal(path.to_owned()));
    }
    let mut at = MAGIC.len();
    let mut entries = Vec::new();
    while at + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes"));
        let corrupt = |what| JournalError::Corrupt { path: path.to_owned(), offset: at as u64, what };
        if len > MAX_PAYLOAD {
            return Err(corrupt("its length is impossible"));
        }
        let Some(payload) = bytes.get(at + 8..at + 8 + len) else { break };
        if crc32fast::hash(payload) != crc {
            return Err(corrupt("its checksum does not match"));
        }
        entries.push(decode(payload).ok_or_else(|| corrupt("it is not an entry this build reads"))?);
        at += 8 + len;
    }
    Ok(Contents { entries, end: at as u64, torn: (bytes.len() - at) as u64 })
}

/// Rebuilds `oms` from `entries`: the orders, their states and our positions as the journal
/// left them.
pub fn rebuild(oms: &mut Oms, entries: &[Entry]) -> Result<(), OmsError> {
    for entry in entries {
        match entry {
            Entry::Sent(order) => oms.sent(order)?,
            Entry::CancelRequested(id) => {
                oms.cancel_requested(*id)?;
            }
            Entry::ReplaceRequested(id, replacement) => {
                oms.replace_requested(*id, *replacement)?;
            }
            Entry::Report(report) | Entry::Sequenced(report, ..) => gateway::apply(oms, report)?,
        }
    }
    Ok(())
}

/// The writing end: entries are buffered in memory and written by [`flush`](Self::flush)
/// (and made durable by [`sync`](Self::sync)), so appending makes no system call.
#[derive(Debug)]
pub struct Writer {
    file: File,
    path: PathBuf,
    buffer: Vec<u8>,
}

impl Writer {
    /// Opens the journal at `path` for appending, creating it if it is missing; a last entry
    /// a crash cut short is cut off first. Returns what the journal already held.
    pub fn open(path: &Path, buffer_bytes: usize) -> Result<(Self, Contents), JournalError> {
        let io = |source| JournalError::Io { path: path.to_owned(), source };
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(io)?;
        let empty = file.metadata().map_err(io)?.len() == 0;
        if empty {
            file.write_all(MAGIC).map_err(io)?;
            file.sync_data().map_err(io)?;
        }
        let contents = read(path)?;
        file.set_len(contents.end).map_err(io)?;
        file.seek(SeekFrom::Start(contents.end)).map_err(io)?;
        Ok((
            Self {
                file,
                path: path.to_owned(),
                buffer: Vec::with_capacity(buffer_bytes.max(MAX_PAYLOAD + 8)),
            },
            contents,
        ))
    }

    /// Appends `entry` to the buffer (writing the buffer out first if it is full).
    pub fn append(&mut self, entry: &Entry) -> Result<(), JournalError> {
        let mut payload = [0u8; MAX_PAYLOAD];
        let len = encode(entry, &mut payload);
        if self.buffer.len() + 8 + len > self.buffer.capacity() {
            self.flush()?;
        }
        self.buffer.extend_from_slice(&(len as u32).to_le_bytes());
        self.buffer.extend_from_slice(&crc32fast::hash(&payload[..len]).to_le_bytes());
        self.buffer.extend_from_slice(&payload[..len]);
        Ok(())
    }

    /// Writes the buffered entries to the file.
    pub fn flush(&mut self) -> Result<(), JournalError> {
        self.file
            .write_all(&self.buffer)
            .map_err(|source| JournalError::Io { path: self.path.clone(), source })?;
        self.buffer.clear();
        Ok(())
    }

    /// Writes the buffered entries and waits for them to reach the disk.
    pub fn sync(&mut self) -> Result<(), JournalError> {
        self.flush()?;
        self.file.sync_data().map_err(|source| JournalError::Io { path: self.path.clone(), source })
    }
}

//! The audit journal: every order we send, every cancel and replace we ask for, and every
//! report a venue sends, appended to a file in the order they happened, so a restarted
//! execution worker rebuilds its OMS (and its positions) from it and an auditor reads the day.
//!
//! A file starts with [`MAGIC`]; each entry is its payload's length (`u32`), the payload's
//! CRC-32 (`u32`), then the payload, little-endian; zeros follow the last entry (the file grows
//! ahead of what is written). A crash can leave the last entry cut short: reading stops there,
//! says so, and appending goes on after the last whole entry. An entry that is whole but fails
//! its CRC is corruption, and reading refuses the file, naming where.
//!
//! The writer appends into a shared memory mapping of the file: an entry is in the kernel's
//! page cache, where it survives the process however it dies, the moment `append` returns,
//! with no system call (the file grows, and is mapped again, once per growth step); `sync`
//! makes it durable against the machine's loss too. The file system takes a write fault on the
//! first write to each page of a file's mapping (it readies the page for writing back), and
//! again after it has written the page back, so [`Writer::prepare`] writes to the pages ahead of
//! the end, and grows the file, between turns: an append on the hot path finds its page ready. An entry's length is stored last, so a
//! process killed in the middle of an append leaves a zero length where reading stops.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{compiler_fence, Ordering};

use risk::{NewOrder, Side};

use crate::gateway::{self, VenueReport};
use crate::oms::{Oms, OmsError, Order, Replacement, Report};

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

/// The highest client order id `entries` name (0 if none): new ids start after it, so none
/// is ever used twice in a day (an order adopted from a venue's replay included).
pub fn last_id(entries: &[Entry]) -> u64 {
    entries
        .iter()
        .map(|e| match e {
            Entry::Sent(o) => o.id,
            Entry::CancelRequested(id) => *id,
            Entry::ReplaceRequested(id, r) => (*id).max(r.id),
            Entry::Report(r) | Entry::Sequenced(r, ..) => r.id.max(r.order.map_or(0, |o| o.id)),
        })
        .max()
        .unwrap_or(0)
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
        if len == 0 {
            break; // the end: zeros, or an append a crash stopped before its length
        }
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
    // Zeros past the end are room to grow into; anything else is an entry cut short.
    let torn = bytes[at..].iter().rposition(|&b| b != 0).map_or(0, |last| last + 1);
    Ok(Contents { entries, end: at as u64, torn: torn as u64 })
}

/// Rebuilds `oms` from `entries`: the orders, their states and our positions as the journal
/// left them.
pub fn rebuild(oms: &mut Oms, entries: &[Entry]) -> Result<(), OmsError> {
    rebuild_seeing_reports(oms, entries, |_, _, _, _| {})
}

/// [`rebuild`], showing `seen` each report once applied: the OMS after it, the report, the
/// order it is about and that order as it was before it.
pub fn rebuild_seeing_reports(
    oms: &mut Oms,
    entries: &[Entry],
    mut seen: impl FnMut(&Oms, Report, u64, Option<&Order>),
) -> Result<(), OmsError> {
    for entry in entries {
        match entry {
            Entry::Sent(order) => oms.sent(order)?,
            Entry::CancelRequested(id) => {
                oms.cancel_requested(*id)?;
            }
            Entry::ReplaceRequested(id, replacement) => {
                oms.replace_requested(*id, *replacement)?;
            }
            Entry::Report(report) | Entry::Sequenced(report, ..) => {
                let id = oms.original_of(report.id).unwrap_or(report.id);
                let before = oms.order(id).copied();
                gateway::apply(oms, report)?;
                seen(oms, report.report, id, before.as_ref());
            }
        }
    }
    Ok(())
}

/// The smallest step the file grows by.
const MIN_GROWTH: usize = 1 << 20;
/// How far past the end [`Writer::prepare`] readies the file.
const AHEAD: usize = 64 << 10;
/// The smallest page size: one write every `PAGE` bytes touches every page.
const PAGE: usize = 4096;

/// The writing end: entries go straight into a shared mapping of the file (see the module's
/// documentation), so appending makes no system call.
#[derive(Debug)]
pub struct Writer {
    file: File,
    path: PathBuf,
    /// The mapping of the whole file.
    map: *mut u8,
    /// Its length: the file's.
    mapped: usize,
    /// Where the next entry goes.
    end: usize,
    growth: usize,
}

// SAFETY: the mapping is owned by the writer alone (no other handle to it exists in the
// process), so moving the writer to another thread moves sole access with it.
unsafe impl Send for Writer {}
// SAFETY: every method that touches the mapping takes `&mut self`; a shared reference reaches
// no byte of it.
unsafe impl Sync for Writer {}

impl Writer {
    /// Opens the journal at `path` for appending, creating it if it is missing; a last entry
    /// a crash cut short is cut off first. The file grows `growth_bytes` (at least 1 MiB) at
    /// a time. Returns what the journal already held.
    pub fn open(path: &Path, growth_bytes: usize) -> Result<(Self, Contents), JournalError> {
        let io = |source| JournalError::Io { path: path.to_owned(), source };
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(io)?;
        let empty = file.metadata().map_err(io)?.len() == 0;
        if empty {
            file.write_all(MAGIC).map_err(io)?;
            file.sync_data().map_err(io)?;
        }
        let contents = read(path)?;
        // What follows the last whole entry is zeroed: cut off, then grown again.
        file.set_len(contents.end).map_err(io)?;
        let mut writer = Self {
            file,
            path: path.to_owned(),
            map: std::ptr::null_mut(),
            mapped: 0,
            end: contents.end as usize,
            growth: growth_bytes.max(MIN_GROWTH),
        };
        writer.grow(0)?;
        writer.prepare()?;
        Ok((writer, contents))
    }

    /// Appends `entry`: in the file's page cache when this returns.
    pub fn append(&mut self, entry: &Entry) -> Result<(), JournalError> {
        let mut payload = [0u8; MAX_PAYLOAD];
        let len = encode(entry, &mut payload);
        if self.end + 8 + len > self.mapped {
            self.grow(8 + len)?;
        }
        let crc = crc32fast::hash(&payload[..len]).to_le_bytes();
        // SAFETY: `end + 8 + len <= mapped` (grown above), so every byte written is inside
        // the writer's own mapping, which nothing else in the process aliases.
        unsafe {
            let at = self.map.add(self.end);
            std::ptr::copy_nonoverlapping(crc.as_ptr(), at.add(4), 4);
            std::ptr::copy_nonoverlapping(payload.as_ptr(), at.add(8), len);
            // The length last: a process killed before it leaves a zero length (the end).
            compiler_fence(Ordering::Release);
            std::ptr::copy_nonoverlapping((len as u32).to_le_bytes().as_ptr(), at, 4);
        }
        self.end += 8 + len;
        Ok(())
    }

    /// Readies the next 64 KiB past the end for appending: grows the file if they do not fit,
    /// and writes a zero (over the zeros there) into each of their pages, so that a page's
    /// write fault is taken now: the first write to a page faults, and so does the first after
    /// the kernel has written the page back (it makes the page read-only again to see the next
    /// write). Called where a pause costs nothing (after a turn's orders are out), so that
    /// `append` neither faults nor grows the file; on a page already writable it costs a store.
    pub fn prepare(&mut self) -> Result<(), JournalError> {
        if self.end + AHEAD > self.mapped {
            self.grow(AHEAD)?;
        }
        let mut at = self.end;
        while at < self.end + AHEAD {
            // SAFETY: `end <= at < end + AHEAD <= mapped`: the byte is inside the writer's own
            // mapping and past the last entry, where the file holds zeros; writing a zero
            // changes nothing a reader sees. Volatile, so the write (the fault it takes) happens.
            unsafe { std::ptr::write_volatile(self.map.add(at), 0) };
            at = (at / PAGE + 1) * PAGE;
        }
        Ok(())
    }

    /// Waits for everything appended to reach the disk.
    pub fn sync(&mut self) -> Result<(), JournalError> {
        // SAFETY: `map` and `mapped` are the live mapping `grow` made.
        if unsafe { libc::msync(self.map.cast(), self.mapped, libc::MS_SYNC) } != 0 {
            return Err(self.io_error(io::Error::last_os_error()));
        }
        Ok(())
    }

    /// Grows the file by whole steps until `needed` more bytes fit after the end, and maps it
    /// again (all of it, its pages faulted in now rather than on the hot path).
    fn grow(&mut self, needed: usize) -> Result<(), JournalError> {
        let steps = (self.end + needed).div_ceil(self.growth).max(1);
        let length = steps * self.growth;
        self.file.set_len(length as u64).map_err(|e| self.io_error(e))?;
        self.unmap();
        // SAFETY: a fresh shared read-write mapping of `length` bytes of our open file, which
        // is `length` long; the kernel picks the address; the result is checked.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                length,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                std::os::fd::AsRawFd::as_raw_fd(&self.file),
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(self.io_error(io::Error::last_os_error()));
        }
        self.map = map.cast();
        self.mapped = length;
        Ok(())
    }

    fn unmap(&mut self) {
        if !self.map.is_null() {
            // SAFETY: `map` and `mapped` are the mapping `grow` made, unmapped once.
            unsafe { libc::munmap(self.map.cast(), self.mapped) };
            self.map = std::ptr::null_mut();
            // Nothing is mapped: an append after a failed growth grows again rather than
            // writing through a null mapping.
            self.mapped = 0;
        }
    }

    fn io_error(&self, source: io::Error) -> JournalError {
        JournalError::Io { path: self.path.clone(), source }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.unmap();
    }
}

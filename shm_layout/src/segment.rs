//! Named POSIX shared-memory segments: create, open (validating the header), list, unlink.

use std::ffi::CString;
use std::ptr::NonNull;
use std::sync::Arc;

use crate::error::{ShmError, ShmResult};
use crate::layout::{
    Geometry, ReaderBlock, SegmentHeader, SegmentKind, SharedCounters, WriterBlock, BLOCK, LAYOUT_VERSION,
    MAGIC, READY,
};
use crate::process::ProcessToken;
use crate::registry;
use crate::sync::AtomicU64;
use crate::time::realtime_ns;

/// Where POSIX shared memory appears in the file system on Linux.
const SHM_DIR: &str = "/dev/shm";

/// How a process maps a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Access {
    /// Read and write: writers and readers (a reader stores its cursor).
    ReadWrite,
    /// Read only: stats and inspection tools, which must never disturb a segment.
    ReadOnly,
}

/// Options for creating a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentOptions {
    /// Permission bits: `0o600` (owner only) by default; `0o640` or `0o660` let `group` in.
    pub mode: u32,
    /// A group to own the segment, so its members may open it when `mode` grants group access.
    pub group: Option<u32>,
    /// Replace an existing segment of the same name whose creator is dead.
    pub replace_stale: bool,
}

impl Default for SegmentOptions {
    fn default() -> Self {
        Self { mode: 0o600, group: None, replace_stale: false }
    }
}

/// The geometry a caller requires of an existing segment; `None` fields are not checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expected {
    /// Slots (rings and queues), keys (slot tables) or cells (metrics).
    pub capacity: Option<u64>,
    /// Largest message (rings and queues) or the record size (slot tables).
    pub max_message_size: Option<u32>,
}

impl Expected {
    /// Fails with [`ShmError::GeometryMismatch`] naming the first field `mapping` differs in.
    pub(crate) fn check(&self, mapping: &Mapping) -> ShmResult<()> {
        let found = mapping.geometry();
        let fields = [
            ("capacity", self.capacity, found.capacity),
            ("max_message_size", self.max_message_size.map(u64::from), u64::from(found.max_message_size)),
        ];
        for (field, expected, found) in fields {
            if let Some(expected) = expected.filter(|&e| e != found) {
                return Err(ShmError::GeometryMismatch {
                    name: mapping.name().to_owned(),
                    field,
                    found,
                    expected,
                });
            }
        }
        Ok(())
    }
}

/// Turns a user's segment name into a POSIX shm name: one leading `/`, no other.
pub(crate) fn shm_name(name: &str) -> ShmResult<String> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    if bare.is_empty() || bare.len() > 250 || bare.contains('/') || bare.contains('\0') {
        return Err(ShmError::InvalidConfig {
            name: name.to_owned(),
            detail: "a segment name is 1 to 250 characters without '/' or NUL".into(),
        });
    }
    Ok(format!("/{bare}"))
}

fn c_name(name: &str) -> CString {
    CString::new(name).expect("shm_name rejects NUL")
}

/// A segment mapped into this process. Shared by every handle to the same segment through the
/// [`registry`]; unmapped when the last handle goes.
#[derive(Debug)]
pub(crate) struct Mapping {
    name: String,
    base: NonNull<u8>,
    len: usize,
    geometry: Geometry,
}

// SAFETY: the mapping is plain shared memory; every mutable word in it is accessed through
// atomics and the immutable header is never written after `ready`, so handles may move to and
// be shared between threads.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `base`/`len` are exactly what mmap returned, and no reference into the mapping
        // outlives it: every accessor borrows from `&self`, and handles hold the `Arc`.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

impl Mapping {
    /// The segment's name, with its leading `/`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The geometry validated at open.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// The header.
    pub fn header(&self) -> &SegmentHeader {
        // SAFETY: the mapping is at least one header long (checked before construction) and
        // page-aligned; the header's plain fields are immutable after `ready`.
        unsafe { &*self.base.as_ptr().cast::<SegmentHeader>() }
    }

    fn block<T>(&self, offset: usize) -> &T {
        debug_assert!(offset + std::mem::size_of::<T>() <= self.len);
        // SAFETY: callers pass offsets from `Geometry`, inside the validated length and aligned
        // to 128; `T` is a `repr(C)` block of atomics, valid for any bit pattern.
        unsafe { &*self.base.as_ptr().add(offset).cast::<T>() }
    }

    /// The writer's block.
    pub fn writer_block(&self) -> &WriterBlock {
        self.block(BLOCK)
    }

    /// The readers' shared counters.
    pub fn counters(&self) -> &SharedCounters {
        self.block(2 * BLOCK)
    }

    /// The reader table.
    pub fn readers(&self) -> &[ReaderBlock] {
        let count = self.geometry.max_readers as usize;
        // SAFETY: `count` blocks from `readers_offset` lie inside the validated length, aligned
        // to 128, and are atomics valid for any bit pattern.
        unsafe {
            std::slice::from_raw_parts(
                self.base.as_ptr().add(Geometry::readers_offset()).cast::<ReaderBlock>(),
                count,
            )
        }
    }

    /// The data area as 8-byte words.
    pub fn data(&self) -> &[AtomicU64] {
        let words = self.geometry.capacity as usize * self.geometry.slot_size() / 8;
        // SAFETY: the data area starts at a 128-aligned offset and spans `capacity * slot_size`
        // bytes inside the validated length; `AtomicU64` has u64's layout and any bit pattern.
        unsafe {
            std::slice::from_raw_parts(
                self.base.as_ptr().add(self.geometry.data_offset()).cast::<AtomicU64>(),
                words,
            )
        }
    }
}

/// An open file descriptor, closed on drop.
struct Fd(libc::c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned by this value and closed exactly once.
        unsafe { libc::close(self.0) };
    }
}

fn fstat(fd: &Fd, name: &str) -> ShmResult<libc::stat> {
    // SAFETY: an all-zero `stat` is a valid value to be overwritten.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open and `st` is writable.
    if unsafe { libc::fstat(fd.0, &mut st) } != 0 {
        return Err(ShmError::last_os(name, "fstat"));
    }
    Ok(st)
}

/// Explains a refused open: the segment's owner and mode, and who we are.
fn permission_detail(name: &str) -> String {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    match std::fs::metadata(format!("{SHM_DIR}{name}")) {
        Ok(meta) => format!(
            "owner uid {} gid {}, mode {:04o}; this process runs as uid {euid}",
            meta.uid(),
            meta.gid(),
            meta.mode() & 0o7777
        ),
        Err(_) => format!("this process runs as uid {euid}"),
    }
}

fn shm_open(name: &str, flags: libc::c_int, mode: libc::mode_t) -> ShmResult<Fd> {
    let cname = c_name(name);
    // SAFETY: `cname` is a valid NUL-terminated string.
    let fd = unsafe { libc::shm_open(cname.as_ptr(), flags | libc::O_CLOEXEC, mode) };
    if fd >= 0 {
        return Ok(Fd(fd));
    }
    let err = std::io::Error::last_os_error();
    Err(match err.raw_os_error() {
        Some(libc::ENOENT) => ShmError::NotFound { name: name.to_owned() },
        Some(libc::EACCES) | Some(libc::EPERM) => {
            ShmError::PermissionDenied { name: name.to_owned(), detail: permission_detail(name) }
        }
        _ => ShmError::Os { name: name.to_owned(), op: "shm_open", source: err },
    })
}

fn mmap(fd: &Fd, len: usize, access: Access, name: &str) -> ShmResult<NonNull<u8>> {
    // Writers and readers pre-fault the whole segment (MAP_POPULATE): the hot path must never
    // stop for a page fault (tens of microseconds on a VM). Read-only tools map lazily.
    let (prot, flags) = match access {
        Access::ReadWrite => (libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED | libc::MAP_POPULATE),
        Access::ReadOnly => (libc::PROT_READ, libc::MAP_SHARED),
    };
    // SAFETY: a fresh shared mapping of an open descriptor; the kernel picks the address.
    let ptr = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, fd.0, 0) };
    if ptr == libc::MAP_FAILED {
        return Err(ShmError::last_os(name, "mmap"));
    }
    Ok(NonNull::new(ptr.cast()).expect("mmap never returns null on success"))
}

/// Creates a segment, writes its header, and marks it ready.
pub(crate) fn create(name: &str, geometry: Geometry, options: &SegmentOptions) -> ShmResult<Arc<Mapping>> {
    let name = shm_name(name)?;
    geometry.validate().map_err(|detail| ShmError::InvalidConfig { name: name.clone(), detail })?;
    if options.mode & !0o660 != 0 || options.mode & 0o600 != 0o600 {
        return Err(ShmError::InvalidConfig {
            name,
            detail: format!(
                "mode {:04o}: the owner needs read and write; a group may be allowed, others never",
                options.mode
            ),
        });
    }
    let len = geometry.total_size().expect("validated geometry has a size");
    let fd = match shm_open(&name, libc::O_RDWR | libc::O_CREAT | libc::O_EXCL, 0o600) {
        Ok(fd) => fd,
        Err(ShmError::Os { source, .. }) if source.raw_os_error() == Some(libc::EEXIST) => {
            let creator = creator_of(&name)?;
            if options.replace_stale && !creator.is_alive() {
                unlink(&name)?;
                return create(&name, geometry, options);
            }
            return Err(ShmError::AlreadyExists { name, creator_pid: creator.pid });
        }
        Err(err) => return Err(err),
    };
    let built = initialise(&fd, &name, geometry, len, options);
    if built.is_err() {
        // Never leave a half-made segment behind under this name.
        let _ = unlink(&name);
    }
    let base = built?;
    let mapping = Arc::new(Mapping { name, base, len, geometry });
    let st = fstat(&fd, mapping.name())?;
    Ok(registry::insert(registry::key(&st, Access::ReadWrite), mapping))
}

fn initialise(
    fd: &Fd,
    name: &str,
    geometry: Geometry,
    len: usize,
    options: &SegmentOptions,
) -> ShmResult<NonNull<u8>> {
    if let Some(gid) = options.group {
        // SAFETY: `fd` is open; uid -1 leaves the owner unchanged.
        if unsafe { libc::fchown(fd.0, u32::MAX, gid) } != 0 {
            return Err(ShmError::last_os(name, "fchown"));
        }
    }
    // The umask may have narrowed the mode given to shm_open: set it exactly.
    // SAFETY: `fd` is open.
    if unsafe { libc::fchmod(fd.0, options.mode as libc::mode_t) } != 0 {
        return Err(ShmError::last_os(name, "fchmod"));
    }
    // SAFETY: `fd` is open for writing.
    if unsafe { libc::ftruncate(fd.0, len as libc::off_t) } != 0 {
        return Err(ShmError::last_os(name, "ftruncate"));
    }
    let base = mmap(fd, len, Access::ReadWrite, name)?;
    let creator = ProcessToken::current();
    let header = SegmentHeader {
        magic: MAGIC,
        layout_version: LAYOUT_VERSION,
        kind: geometry.kind as u32,
        capacity: geometry.capacity,
        slot_size: geometry.slot_size() as u32,
        max_message_size: geometry.max_message_size,
        max_readers: geometry.max_readers,
        mode: options.mode,
        total_size: len as u64,
        creator_pid: creator.pid,
        reserved: 0,
        creator_start_ticks: creator.start_ticks,
        created_realtime_ns: realtime_ns(),
        checksum: 0,
        ready: std::sync::atomic::AtomicU32::new(0),
    };
    let header_ptr = base.as_ptr().cast::<SegmentHeader>();
    // SAFETY: the fresh mapping is `len >= BLOCK` zeroed, page-aligned bytes that no other
    // process trusts until `ready` is stored below.
    let header_ref = unsafe {
        header_ptr.write(header);
        &mut *header_ptr
    };
    header_ref.checksum = header_ref.expected_checksum();
    header_ref.ready.store(READY, std::sync::atomic::Ordering::Release);
    Ok(base)
}

/// Checks everything a header promises before anyone trusts it, in the order that names the
/// most useful mismatch first.
fn validate(name: &str, header: &SegmentHeader, size: u64) -> ShmResult<Geometry> {
    if header.magic != MAGIC {
        if header.magic == 0 && !header.is_ready() {
            return Err(ShmError::NotReady { name: name.to_owned() });
        }
        return Err(ShmError::BadMagic { name: name.to_owned(), found: header.magic, expected: MAGIC });
    }
    if header.layout_version != LAYOUT_VERSION {
        return Err(ShmError::VersionMismatch {
            name: name.to_owned(),
            found: header.layout_version,
            expected: LAYOUT_VERSION,
        });
    }
    if !header.is_ready() {
        return Err(ShmError::NotReady { name: name.to_owned() });
    }
    let corrupt = |detail: String| ShmError::Corrupt { name: name.to_owned(), detail };
    if header.checksum != header.expected_checksum() {
        return Err(corrupt(format!(
            "checksum {:#018x}, the fields give {:#018x}",
            header.checksum,
            header.expected_checksum()
        )));
    }
    let geometry =
        header.geometry().ok_or_else(|| corrupt(format!("unknown segment kind {}", header.kind)))?;
    geometry.validate().map_err(corrupt)?;
    let expected = geometry.total_size().expect("validated geometry has a size") as u64;
    if header.total_size != expected || header.slot_size as usize != geometry.slot_size() {
        return Err(corrupt("sizes disagree with the geometry".into()));
    }
    if size < expected {
        return Err(ShmError::Truncated { name: name.to_owned(), size, expected });
    }
    Ok(geometry)
}

/// Opens and validates a segment of any kind.
pub(crate) fn open_any(name: &str, access: Access) -> ShmResult<Arc<Mapping>> {
    let name = shm_name(name)?;
    let flags = match access {
        Access::ReadWrite => libc::O_RDWR,
        Access::ReadOnly => libc::O_RDONLY,
    };
    let fd = shm_open(&name, flags, 0)?;
    let st = fstat(&fd, &name)?;
    let key = registry::key(&st, access);
    if let Some(mapping) = registry::lookup(key) {
        return Ok(mapping);
    }
    let size = st.st_size as u64;
    if size < BLOCK as u64 {
        return Err(ShmError::Truncated { name, size, expected: BLOCK as u64 });
    }
    let base = mmap(&fd, size as usize, access, &name)?;
    // Own the mapping first so every early return below unmaps it.
    let mut mapping = Mapping {
        name,
        base,
        len: size as usize,
        geometry: Geometry { kind: SegmentKind::Slots, capacity: 0, max_message_size: 0, max_readers: 0 },
    };
    mapping.geometry = validate(&mapping.name, mapping.header(), size)?;
    Ok(registry::insert(key, Arc::new(mapping)))
}

/// Opens a segment and checks it holds `kind`.
pub(crate) fn open(name: &str, access: Access, kind: SegmentKind) -> ShmResult<Arc<Mapping>> {
    let mapping = open_any(name, access)?;
    let found = mapping.geometry().kind;
    if found != kind {
        return Err(ShmError::KindMismatch {
            name: mapping.name().to_owned(),
            found: found.to_string(),
            expected: kind,
        });
    }
    Ok(mapping)
}

/// The creator recorded in a segment's header, read even when the header is not ready (the
/// creator's identity is written before anything else can fail).
fn creator_of(name: &str) -> ShmResult<ProcessToken> {
    let fd = shm_open(name, libc::O_RDONLY, 0)?;
    let size = fstat(&fd, name)?.st_size as usize;
    if size < BLOCK {
        // An empty or truncated object never got a header: nobody alive owns it.
        return Ok(ProcessToken { pid: 0, start_ticks: 0 });
    }
    let base = mmap(&fd, BLOCK, Access::ReadOnly, name)?;
    // SAFETY: `base` maps at least one header; plain integer fields are valid for any bits.
    let header = unsafe { &*base.as_ptr().cast::<SegmentHeader>() };
    let token = ProcessToken { pid: header.creator_pid, start_ticks: header.creator_start_ticks };
    // SAFETY: unmapping exactly the mapping made above, after its last use.
    unsafe { libc::munmap(base.as_ptr().cast(), BLOCK) };
    Ok(token)
}

/// Removes a segment's name. Processes that have it mapped keep their mapping; new opens fail.
pub fn unlink(name: &str) -> ShmResult<()> {
    let name = shm_name(name)?;
    let cname = c_name(&name);
    // SAFETY: `cname` is a valid NUL-terminated string.
    if unsafe { libc::shm_unlink(cname.as_ptr()) } == 0 {
        return Ok(());
    }
    let err = std::io::Error::last_os_error();
    Err(match err.raw_os_error() {
        Some(libc::ENOENT) => ShmError::NotFound { name },
        Some(libc::EACCES) | Some(libc::EPERM) => {
            let detail = permission_detail(&name);
            ShmError::PermissionDenied { name, detail }
        }
        _ => ShmError::Os { name, op: "shm_unlink", source: err },
    })
}

/// Unlinks `name` if the process that created it is dead; returns whether it did.
pub fn remove_if_stale(name: &str) -> ShmResult<bool> {
    let name = shm_name(name)?;
    if creator_of(&name)?.is_alive() {
        return Ok(false);
    }
    unlink(&name)?;
    Ok(true)
}

/// Names (with their leading `/`) of the segments whose names start with `prefix`, sorted.
pub fn list_segments(prefix: &str) -> ShmResult<Vec<String>> {
    let prefix = prefix.strip_prefix('/').unwrap_or(prefix);
    let entries = std::fs::read_dir(SHM_DIR).map_err(|source| ShmError::Os {
        name: SHM_DIR.to_owned(),
        op: "read_dir",
        source,
    })?;
    let mut names: Vec<String> = entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|file| file.starts_with(prefix))
        .map(|file| format!("/{file}"))
        .collect();
    names.sort();
    Ok(names)
}

/// What a segment's header says about it, and whether its creator still lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    /// The segment's name, with its leading `/`.
    pub name: String,
    /// What it holds.
    pub kind: SegmentKind,
    /// Layout version of its creator.
    pub layout_version: u32,
    /// Slots (or keys).
    pub capacity: u64,
    /// Largest message or record in bytes.
    pub max_message_size: u32,
    /// Reader cursors.
    pub max_readers: u32,
    /// Bytes per slot.
    pub slot_size: u32,
    /// Total size in bytes.
    pub total_size: u64,
    /// Permission bits at creation.
    pub mode: u32,
    /// The creating process.
    pub creator: ProcessToken,
    /// Whether the creator is still running.
    pub creator_alive: bool,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created_realtime_ns: u64,
}

impl SegmentInfo {
    /// Opens `name` read-only, validates it and describes it.
    pub fn read(name: &str) -> ShmResult<Self> {
        Ok(Self::of(&*open_any(name, Access::ReadOnly)?))
    }

    pub(crate) fn of(mapping: &Mapping) -> Self {
        let header = mapping.header();
        let creator = ProcessToken { pid: header.creator_pid, start_ticks: header.creator_start_ticks };
        Self {
            name: mapping.name().to_owned(),
            kind: mapping.geometry().kind,
            layout_version: header.layout_version,
            capacity: header.capacity,
            max_message_size: header.max_message_size,
            max_readers: header.max_readers,
            slot_size: header.slot_size,
            total_size: header.total_size,
            mode: header.mode,
            creator,
            creator_alive: creator.is_alive(),
            created_realtime_ns: header.created_realtime_ns,
        }
    }
}

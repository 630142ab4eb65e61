//! The coordination file: a small file beside an SQLite store (`<database>-sesh`), mapped
//! into every process that opens the store, that holds each namespace's live state.
//!
//! Layout (all words little-endian `u64`, read and written only as atomics, since other
//! processes change them at any instant):
//!
//! - a header: magic, version, size, the database's store id, and the installation's user
//!   id under a sequence lock;
//! - [`SLOTS`] namespace slots. A slot has a hot line (`gen_index`: the record's
//!   generation and the session's event index in one word; `last_activity`), which the
//!   per-event path changes with atomics alone, and two copies of the namespace's record
//!   (the whole state, as of its generation), each under its own sequence lock and checksum.
//!   A writer writes the older copy, so a writer killed mid-write leaves the newer one whole.
//!
//! Locks are POSIX record locks (`fcntl`), which the kernel releases when a process dies,
//! on single bytes past the data: one for the header and slot table, and per slot one a
//! writer holds while it changes the record (rare: a session starts or ends, a transition,
//! a new event-index reservation) and one every holder keeps shared for as long as it
//! holds the namespace. Record locks belong to the process, not the thread or the file
//! descriptor, so each lock has an in-process mutex beside it, and the file is opened once
//! per process (closing any descriptor of a file drops the process's locks on it).
//! iOS and Android both have everything this uses: `mmap`, `fcntl` locks and 64-bit
//! atomics; no futex and no robust mutex.

use super::protocol;
use crate::engine::state::{FirstEvent, MAX_INDEX, NamespaceState, Session};
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use uuid::Uuid;

/// "sesh-crd" as a little-endian word: the first eight bytes of every coordination file.
const MAGIC: u64 = u64::from_le_bytes(*b"sesh-crd");
/// The layout's version; a file of another version is rebuilt when no process holds it.
pub(crate) const VERSION: u64 = 1;
/// Namespaces one store can coordinate.
pub(crate) const SLOTS: usize = 64;
const HEADER_WORDS: usize = 64;
const SLOT_WORDS: usize = 96;
const FILE_WORDS: usize = HEADER_WORDS + SLOTS * SLOT_WORDS;
/// The file's size in bytes: 49,664.
pub(crate) const FILE_SIZE: usize = FILE_WORDS * 8;

// Header words.
const H_MAGIC: usize = 0;
const H_VERSION: usize = 1;
const H_SIZE: usize = 2;
const H_STORE_ID: usize = 3; // and 4
const H_USER_SEQ: usize = 8;
const H_USER: usize = 9; // and 10

// Slot words.
const S_GEN_INDEX: usize = 0;
const S_ACTIVITY: usize = 1;
const S_IDENTITY: usize = 8;
const S_NAME_HASH: usize = 9;
const S_NAME: usize = 10; // 16 words: the name's first 128 bytes
const NAME_PREFIX: usize = 128;
/// A checksum of the identity words: a damaged identity frees its slot.
const S_IDENTITY_CHECK: usize = 26;
const S_COPIES: [usize; 2] = [32, 60];
const CLAIMED: u64 = 1 << 63;

// Record words, from a copy's start.
const R_SEQ: usize = 0;
const R_GEN: usize = 1;
const R_FLAGS: usize = 2;
const R_USER: usize = 3;
const R_SESSION_INDEX: usize = 5;
const R_LAST_SESSION: usize = 6;
const R_SESSION: usize = 8;
const R_PREVIOUS: usize = 10;
const R_STARTED: usize = 12;
const R_FIRST_ID: usize = 13;
const R_FIRST_TS: usize = 15;
const R_FIRST_COUNTED: usize = 16;
const R_BG: usize = 17;
const R_FG: usize = 18;
const R_EVENT_INDEX: usize = 19;
const R_ACTIVITY: usize = 20;
const R_RESERVED: usize = 21;
const R_STORED_GEN: usize = 22;
const R_CHECKSUM: usize = 23;
const RECORD_WORDS: usize = 24;

const F_SESSION: u64 = 1;
const F_FIRST: u64 = 2;
const F_PREVIOUS: u64 = 4;
const F_LAST_SESSION: u64 = 8;
const F_BACKGROUND: u64 = 16;
const F_ANONYMOUS: u64 = 32;

// Lock bytes, past the data so that they never overlap what the map covers.
const LOCK_BASE: i64 = FILE_SIZE as i64;
const LOCK_TABLE: i64 = LOCK_BASE;
const fn writer_lock(slot: usize) -> i64 {
    LOCK_BASE + 1 + 2 * slot as i64
}
const fn holder_lock(slot: usize) -> i64 {
    LOCK_BASE + 2 + 2 * slot as i64
}

pub(crate) use super::protocol::FROZEN;
const GEN_MASK: u32 = 0x7fff_ffff;

pub fn gen_of(gen_index: u64) -> u32 {
    ((gen_index >> 32) as u32) & GEN_MASK
}
pub fn index_of(gen_index: u64) -> u32 {
    gen_index as u32
}
pub fn is_frozen(gen_index: u64) -> bool {
    gen_index & FROZEN != 0
}
pub fn pack(generation: u32, index: u32) -> u64 {
    (u64::from(generation & GEN_MASK) << 32) | u64::from(index)
}
/// The generation after `generation`; 0 is never used, so that a zeroed slot has no record.
pub fn next_gen(generation: u32) -> u32 {
    match (generation + 1) & GEN_MASK {
        0 => 1,
        next => next,
    }
}

/// A namespace's state as of one generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub generation: u32,
    pub state: NamespaceState,
    /// The highest event index of the current session the database covers: the per-event
    /// path never hands out one past it.
    pub reserved: u32,
    /// The generation the database holds; behind `generation` while a write to it failed.
    pub stored_gen: u32,
}

impl Record {
    /// A state no generation holds yet: the next write publishes it.
    pub fn unwritten(state: NamespaceState) -> Record {
        Record {
            generation: 0,
            state,
            reserved: 0,
            stored_gen: 0,
        }
    }
}

struct SlotLocal {
    /// The in-process half of the slot's writer lock.
    writer: Mutex<()>,
    /// Handles of this process holding the namespace.
    holders: Mutex<u32>,
}

/// One process's view of a coordination file.
pub struct CoordFile {
    path: PathBuf,
    file: File,
    identity: (u64, u64),
    words: *const AtomicU64,
    /// The in-process half of the table lock.
    table: Mutex<()>,
    slots: Vec<SlotLocal>,
}

// SAFETY: the map is shared memory accessed through atomics only; it lives as long as the
// `CoordFile`, which unmaps it on drop.
unsafe impl Send for CoordFile {}
unsafe impl Sync for CoordFile {}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn io_error(context: &str, err: impl std::fmt::Display) -> Error {
    Error::store(format!("{context}: {err}"))
}

/// This process's coordination files, by device and inode.
type Registry = HashMap<(u64, u64), Weak<CoordFile>>;

/// What attaching found, for the handle to report.
#[derive(Debug, Default)]
pub struct Attached {
    /// The file was made now (it was missing).
    pub created: bool,
    /// The file was sesh's but unusable (damaged, another version, another database's)
    /// and was rebuilt.
    pub rebuilt: Option<String>,
}

impl CoordFile {
    /// The coordination file beside the database at `database`.
    pub fn path_for(database: &Path) -> PathBuf {
        let mut name = database.as_os_str().to_owned();
        name.push("-sesh");
        PathBuf::from(name)
    }

    /// Maps the coordination file of `database` (made when missing), checked against the
    /// database's `store_id`. Every handle of this process on that file shares one map.
    pub fn attach(database: &Path, store_id: Uuid) -> Result<(Arc<CoordFile>, Attached)> {
        static FILES: OnceLock<Mutex<Registry>> = OnceLock::new();
        let path = Self::path_for(database);
        let mut files = lock(FILES.get_or_init(Default::default));
        files.retain(|_, file| file.strong_count() > 0);
        // Looked up by the path's identity without opening it: a second descriptor of a
        // file whose locks this process holds would drop them when closed.
        if let Ok(meta) = std::fs::metadata(&path) {
            use std::os::unix::fs::MetadataExt;
            if let Some(file) = files.get(&(meta.dev(), meta.ino())).and_then(Weak::upgrade) {
                if meta.len() < FILE_SIZE as u64 {
                    return Err(Error::store(format!(
                        "the coordination file {} was cut short while this process uses it",
                        file.path.display()
                    )));
                }
                return Ok((file, Attached::default()));
            }
        }
        let (file, created) = open_or_create(&path)?;
        let meta = file
            .metadata()
            .map_err(|e| io_error("cannot read the coordination file", e))?;
        use std::os::unix::fs::MetadataExt;
        let identity = (meta.dev(), meta.ino());
        let mut coord = CoordFile {
            path,
            file,
            identity,
            words: std::ptr::null(),
            table: Mutex::new(()),
            slots: (0..SLOTS)
                .map(|_| SlotLocal {
                    writer: Mutex::new(()),
                    holders: Mutex::new(0),
                })
                .collect(),
        };
        let mut attached = Attached {
            created,
            rebuilt: None,
        };
        // Not shared yet: the record lock alone keeps other processes out.
        coord.record_lock(LOCK_TABLE, libc::F_WRLCK as libc::c_short, true)?;
        let prepared = coord.prepare(store_id);
        coord.unlock(LOCK_TABLE);
        attached.rebuilt = prepared?;
        let coord = Arc::new(coord);
        files.insert(identity, Arc::downgrade(&coord));
        Ok((coord, attached))
    }

    /// Under the table lock: makes the file's content sesh's current layout, then maps it.
    /// Returns why it was rebuilt, if it was.
    fn prepare(&mut self, store_id: Uuid) -> Result<Option<String>> {
        let size = self
            .file
            .metadata()
            .map_err(|e| io_error("cannot read the coordination file", e))?
            .len();
        let mut rebuilt = None;
        if size == 0 {
            // Made now (or by an opener killed before it wrote anything).
            self.write_fresh(store_id)?;
        } else {
            let mut head = [0u8; 24];
            let read = read_at(&self.file, &mut head, 0);
            let magic = u64::from_le_bytes(head[0..8].try_into().unwrap_or_default());
            if read < 8 || magic != MAGIC {
                return Err(Error::store(format!(
                    "{} is not a sesh coordination file; sesh leaves it as it is",
                    self.path.display()
                )));
            }
            let version = u64::from_le_bytes(head[8..16].try_into().unwrap_or_default());
            let layout = u64::from_le_bytes(head[16..24].try_into().unwrap_or_default());
            let why = if read < 24 || version != VERSION {
                Some(format!("it has layout version {version}, not {VERSION}"))
            } else if layout != FILE_SIZE as u64 || size != FILE_SIZE as u64 {
                Some(format!("it is {size} bytes, not {FILE_SIZE}"))
            } else {
                None
            };
            if let Some(why) = why {
                self.rebuild(store_id, why.clone())?;
                rebuilt = Some(why);
            }
        }
        self.map()?;
        if rebuilt.is_none() && self.store_id() != store_id {
            let why = "it belongs to another database".to_owned();
            self.unmap();
            self.rebuild(store_id, why.clone())?;
            self.map()?;
            rebuilt = Some(why);
        }
        Ok(rebuilt)
    }

    /// Writes the file anew, refusing while another process holds any namespace of it.
    fn rebuild(&mut self, store_id: Uuid, why: String) -> Result<()> {
        if (0..SLOTS).any(|slot| self.held_elsewhere(slot)) {
            return Err(Error::store(format!(
                "the coordination file {} is unusable ({why}) and another process is using it",
                self.path.display()
            )));
        }
        self.write_fresh(store_id)
    }

    /// Writes every byte of a fresh layout, so that the file's space is taken now: a full
    /// disk later cannot make a write to the map fail (SIGBUS).
    fn write_fresh(&self, store_id: Uuid) -> Result<()> {
        let mut bytes = vec![0u8; FILE_SIZE];
        let (hi, lo) = split(store_id);
        for (word, value) in [
            (H_MAGIC, MAGIC),
            (H_VERSION, VERSION),
            (H_SIZE, FILE_SIZE as u64),
            (H_STORE_ID, hi),
            (H_STORE_ID + 1, lo),
        ] {
            bytes[word * 8..word * 8 + 8].copy_from_slice(&value.to_le_bytes());
        }
        self.file
            .set_len(0)
            .and_then(|_| write_all_at(&self.file, &bytes, 0))
            .map_err(|e| io_error("cannot write the coordination file", e))
    }

    fn map(&mut self) -> Result<()> {
        // SAFETY: a shared read-write map of FILE_SIZE bytes of a file at least that long
        // (checked or written by `prepare`); unmapped in `unmap` or on drop.
        let address = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                FILE_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                self.file.as_raw_fd(),
                0,
            )
        };
        if address == libc::MAP_FAILED {
            return Err(io_error(
                "cannot map the coordination file",
                std::io::Error::last_os_error(),
            ));
        }
        self.words = address as *const AtomicU64;
        Ok(())
    }

    fn unmap(&mut self) {
        if !self.words.is_null() {
            // SAFETY: `words` is the map `map` made, of FILE_SIZE bytes.
            unsafe { libc::munmap(self.words as *mut libc::c_void, FILE_SIZE) };
            self.words = std::ptr::null();
        }
    }

    fn word(&self, index: usize) -> &AtomicU64 {
        debug_assert!(index < FILE_WORDS);
        // SAFETY: the map is FILE_WORDS words long, page-aligned, and lives as long as
        // `self`; every access to it is atomic.
        unsafe { &*self.words.add(index) }
    }

    fn slot_word(&self, slot: usize, index: usize) -> &AtomicU64 {
        self.word(HEADER_WORDS + slot * SLOT_WORDS + index)
    }

    fn store_id(&self) -> Uuid {
        join(
            self.word(H_STORE_ID).load(Ordering::Acquire),
            self.word(H_STORE_ID + 1).load(Ordering::Acquire),
        )
    }

    /// True when the path now names another file (this one was deleted or replaced).
    pub fn replaced(&self) -> bool {
        use std::os::unix::fs::MetadataExt;
        match std::fs::metadata(&self.path) {
            Ok(meta) => (meta.dev(), meta.ino()) != self.identity,
            Err(_) => true,
        }
    }

    // ----- locks --------------------------------------------------------------------------

    fn lock_table(&self) -> Result<TableGuard<'_>> {
        let guard = lock(&self.table);
        self.record_lock(LOCK_TABLE, libc::F_WRLCK as libc::c_short, true)?;
        Ok(TableGuard {
            coord: self,
            _inner: guard,
        })
    }

    /// Takes the slot's writer lock: this process's threads and every other process wait.
    pub fn lock_writer(&self, slot: usize) -> Result<WriterGuard<'_>> {
        let guard = lock(&self.slots[slot].writer);
        self.record_lock(writer_lock(slot), libc::F_WRLCK as libc::c_short, true)?;
        Ok(WriterGuard {
            coord: self,
            slot,
            _inner: guard,
        })
    }

    fn record_lock(&self, at: i64, kind: libc::c_short, wait: bool) -> Result<()> {
        // SAFETY: a zeroed flock is a valid value; every field that matters is set below.
        let mut request: libc::flock = unsafe { std::mem::zeroed() };
        request.l_type = kind;
        request.l_whence = libc::SEEK_SET as libc::c_short;
        request.l_start = at as libc::off_t;
        request.l_len = 1;
        let command = if wait { libc::F_SETLKW } else { libc::F_SETLK };
        loop {
            // SAFETY: a valid descriptor and a valid flock.
            if unsafe { libc::fcntl(self.file.as_raw_fd(), command, &request) } == 0 {
                return Ok(());
            }
            let err = std::io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => continue,
                // The kernel's deadlock detection can misfire between processes that each
                // wait for another byte; waiting again is right for locks taken in one order.
                Some(libc::EDEADLK) => std::thread::sleep(std::time::Duration::from_millis(1)),
                _ => return Err(io_error("cannot lock the coordination file", err)),
            }
        }
    }

    fn unlock(&self, at: i64) {
        let _ = self.record_lock(at, libc::F_UNLCK as libc::c_short, false);
    }

    /// Whether a process other than this one holds a shared lock on the slot's holder byte.
    fn held_elsewhere(&self, slot: usize) -> bool {
        // SAFETY: as in `record_lock`.
        let mut probe: libc::flock = unsafe { std::mem::zeroed() };
        probe.l_type = libc::F_WRLCK as libc::c_short;
        probe.l_whence = libc::SEEK_SET as libc::c_short;
        probe.l_start = holder_lock(slot) as libc::off_t;
        probe.l_len = 1;
        // SAFETY: a valid descriptor and a valid flock.
        let rc = unsafe { libc::fcntl(self.file.as_raw_fd(), libc::F_GETLK, &mut probe) };
        rc == 0 && probe.l_type != libc::F_UNLCK as libc::c_short
    }

    // ----- slots and holders --------------------------------------------------------------

    /// The slot of `namespace`, claimed when it has none; then this handle holds it.
    /// Returns the slot and whether no other handle (here or in another process) held it.
    /// Call with the slot's writer lock not yet taken; `hold` takes the table lock.
    pub fn slot_for(&self, namespace: &str) -> Result<usize> {
        let _table = self.lock_table()?;
        let hash = name_hash(namespace);
        let bytes = namespace.as_bytes();
        let mut free = None;
        for slot in 0..SLOTS {
            let identity = self.slot_word(slot, S_IDENTITY).load(Ordering::Acquire);
            let damaged = identity & CLAIMED != 0
                && self
                    .slot_word(slot, S_IDENTITY_CHECK)
                    .load(Ordering::Acquire)
                    != self.identity_check(slot)
                && *lock(&self.slots[slot].holders) == 0
                && !self.held_elsewhere(slot);
            if identity & CLAIMED == 0 || damaged {
                free.get_or_insert(slot);
                continue;
            }
            if identity & !CLAIMED == bytes.len() as u64
                && self.slot_word(slot, S_NAME_HASH).load(Ordering::Acquire) == hash
                && self.name_prefix(slot) == bytes[..bytes.len().min(NAME_PREFIX)]
            {
                return Ok(slot);
            }
        }
        let Some(slot) = free else {
            return Err(Error::store(format!(
                "one store coordinates at most {SLOTS} namespaces"
            )));
        };
        for index in 0..SLOT_WORDS {
            self.slot_word(slot, index).store(0, Ordering::Relaxed);
        }
        let mut name = [0u8; NAME_PREFIX];
        let kept = bytes.len().min(NAME_PREFIX);
        name[..kept].copy_from_slice(&bytes[..kept]);
        for (i, chunk) in name.chunks(8).enumerate() {
            let value = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
            self.slot_word(slot, S_NAME + i)
                .store(value, Ordering::Relaxed);
        }
        self.slot_word(slot, S_NAME_HASH)
            .store(hash, Ordering::Relaxed);
        self.slot_word(slot, S_IDENTITY)
            .store(CLAIMED | bytes.len() as u64, Ordering::Release);
        self.slot_word(slot, S_IDENTITY_CHECK)
            .store(self.identity_check(slot), Ordering::Release);
        Ok(slot)
    }

    fn identity_check(&self, slot: usize) -> u64 {
        let words: Vec<u64> = (S_IDENTITY..S_IDENTITY_CHECK)
            .map(|i| self.slot_word(slot, i).load(Ordering::Acquire))
            .collect();
        mix(&words)
    }

    fn name_prefix(&self, slot: usize) -> Vec<u8> {
        let length = (self.slot_word(slot, S_IDENTITY).load(Ordering::Acquire) & !CLAIMED)
            .min(NAME_PREFIX as u64) as usize;
        let mut name = Vec::with_capacity(NAME_PREFIX);
        for i in 0..NAME_PREFIX / 8 {
            name.extend_from_slice(
                &self
                    .slot_word(slot, S_NAME + i)
                    .load(Ordering::Acquire)
                    .to_le_bytes(),
            );
        }
        name.truncate(length);
        name
    }

    /// Makes this handle a holder of `slot`; true when no other handle held it.
    pub fn hold(&self, slot: usize) -> Result<bool> {
        let _table = self.lock_table()?;
        let mut holders = lock(&self.slots[slot].holders);
        let first = *holders == 0 && !self.held_elsewhere(slot);
        if *holders == 0 {
            self.record_lock(holder_lock(slot), libc::F_RDLCK as libc::c_short, true)?;
        }
        *holders += 1;
        Ok(first)
    }

    /// This handle stops holding `slot`; true when another handle still holds it.
    pub fn release(&self, slot: usize) -> bool {
        let Ok(_table) = self.lock_table() else {
            return true;
        };
        let mut holders = lock(&self.slots[slot].holders);
        *holders = holders.saturating_sub(1);
        if *holders == 0 {
            self.unlock(holder_lock(slot));
        }
        *holders > 0 || self.held_elsewhere(slot)
    }

    /// Whether a handle other than the caller holds `slot`.
    pub fn shared_with_others(&self, slot: usize) -> bool {
        *lock(&self.slots[slot].holders) > 1 || self.held_elsewhere(slot)
    }

    // ----- the hot line -------------------------------------------------------------------

    pub fn gen_index(&self, slot: usize) -> u64 {
        self.slot_word(slot, S_GEN_INDEX).load(Ordering::Acquire)
    }

    /// Waits a bounded while (about 100 µs, yielding the CPU) for the slot's writer to
    /// publish; false when it is still frozen.
    pub fn wait_unfrozen(&self, slot: usize) -> bool {
        const SPINS: u32 = 64;
        const YIELDS: u32 = 64;
        for round in 0..SPINS + YIELDS {
            if !is_frozen(self.gen_index(slot)) {
                return true;
            }
            if round < SPINS {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        !is_frozen(self.gen_index(slot))
    }

    pub fn last_activity(&self, slot: usize) -> i64 {
        self.slot_word(slot, S_ACTIVITY).load(Ordering::Acquire) as i64
    }

    /// The per-event path's publish step ([`protocol::count`]).
    pub fn count_event(&self, slot: usize, seen: u64, now: i64) -> bool {
        // Times are 0..=MAX_TIMESTAMP_MS, so the unsigned order is the signed one.
        protocol::count(
            self.slot_word(slot, S_GEN_INDEX),
            self.slot_word(slot, S_ACTIVITY),
            seen,
            now.max(0) as u64,
        )
    }

    /// Under the writer lock: stops the per-event path of every handle (their exchange fails
    /// and they come for the writer lock). Returns the word as it was: frozen already when
    /// a writer died mid-change.
    pub fn freeze(&self, guard: &WriterGuard<'_>) -> u64 {
        protocol::freeze(self.slot_word(guard.slot, S_GEN_INDEX))
    }

    /// Under the writer lock: publishes a generation, its event index and last activity.
    pub fn publish(&self, guard: &WriterGuard<'_>, generation: u32, index: u32, activity: i64) {
        protocol::publish(
            self.slot_word(guard.slot, S_GEN_INDEX),
            self.slot_word(guard.slot, S_ACTIVITY),
            pack(generation, index),
            activity.max(0) as u64,
        );
    }

    // ----- records ------------------------------------------------------------------------

    /// The record of generation `generation`, read without a lock; `None` when neither copy holds
    /// it whole (a writer is at work: take the writer lock and read again).
    pub fn read_record(&self, slot: usize, generation: u32) -> Option<Record> {
        for _ in 0..64 {
            let mut torn = false;
            for copy in S_COPIES {
                match self.read_copy(slot, copy) {
                    Some(record) if record.generation == generation => return Some(record),
                    Some(_) => {}
                    None => torn = true,
                }
            }
            if !torn {
                return None;
            }
            std::hint::spin_loop();
        }
        None
    }

    /// Under the writer lock: the newest whole record, if any.
    pub fn newest_record(&self, slot: usize) -> Option<Record> {
        S_COPIES
            .iter()
            .filter_map(|&copy| self.read_copy(slot, copy))
            .max_by_key(|record| record.generation)
    }

    /// Under the writer lock: writes `record` over the copy that does not hold the newest
    /// generation, so that a kill mid-write leaves the other whole.
    pub fn write_record(&self, guard: &WriterGuard<'_>, record: &Record) {
        let slot = guard.slot;
        // A torn or missing copy reads as generation 0: the one to write.
        let generations: Vec<u32> = S_COPIES
            .iter()
            .map(|&copy| self.read_copy(slot, copy).map_or(0, |r| r.generation))
            .collect();
        let copy = if generations[0] <= generations[1] {
            S_COPIES[0]
        } else {
            S_COPIES[1]
        };
        let words = encode_record(record);
        let seq = self.slot_word(slot, copy + R_SEQ);
        let odd = (seq.load(Ordering::Relaxed) | 1).wrapping_add(2);
        seq.store(odd, Ordering::Relaxed);
        fence(Ordering::Release);
        for (i, value) in words.iter().enumerate().skip(1) {
            self.slot_word(slot, copy + i)
                .store(*value, Ordering::Relaxed);
        }
        seq.store(odd.wrapping_add(1), Ordering::Release);
    }

    fn read_copy(&self, slot: usize, copy: usize) -> Option<Record> {
        let seq = self.slot_word(slot, copy + R_SEQ);
        let before = seq.load(Ordering::Acquire);
        if before & 1 == 1 {
            return None;
        }
        let mut words = [0u64; RECORD_WORDS];
        for (i, word) in words.iter_mut().enumerate().skip(1) {
            *word = self.slot_word(slot, copy + i).load(Ordering::Relaxed);
        }
        fence(Ordering::Acquire);
        if seq.load(Ordering::Relaxed) != before {
            return None;
        }
        decode_record(&words)
    }

    // ----- the installation's user id -----------------------------------------------------

    /// The user id's sequence: it changes each time a handle sets the user (per-event
    /// check: one load).
    pub fn user_seq(&self) -> u64 {
        self.word(H_USER_SEQ).load(Ordering::Acquire)
    }

    /// The user id the file holds, if one was set, and its sequence.
    pub fn user(&self) -> (Option<Uuid>, u64) {
        loop {
            let before = self.user_seq();
            if before & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let user = join(
                self.word(H_USER).load(Ordering::Relaxed),
                self.word(H_USER + 1).load(Ordering::Relaxed),
            );
            fence(Ordering::Acquire);
            if self.word(H_USER_SEQ).load(Ordering::Relaxed) == before {
                return ((before > 0).then_some(user), before);
            }
        }
    }

    /// Sets the user id (under the table lock, so that setters do not interleave).
    pub fn set_user(&self, user: Uuid) -> Result<u64> {
        let _table = self.lock_table()?;
        let seq = self.word(H_USER_SEQ);
        let odd = seq.load(Ordering::Relaxed) | 1;
        seq.store(odd, Ordering::Relaxed);
        fence(Ordering::Release);
        let (hi, lo) = split(user);
        self.word(H_USER).store(hi, Ordering::Relaxed);
        self.word(H_USER + 1).store(lo, Ordering::Relaxed);
        seq.store(odd + 1, Ordering::Release);
        Ok(odd + 1)
    }
}

impl Drop for CoordFile {
    fn drop(&mut self) {
        self.unmap();
    }
}

pub struct TableGuard<'a> {
    coord: &'a CoordFile,
    _inner: MutexGuard<'a, ()>,
}

impl Drop for TableGuard<'_> {
    fn drop(&mut self) {
        self.coord.unlock(LOCK_TABLE);
    }
}

/// A slot's writer lock; released on drop.
pub struct WriterGuard<'a> {
    coord: &'a CoordFile,
    pub slot: usize,
    _inner: MutexGuard<'a, ()>,
}

impl Drop for WriterGuard<'_> {
    fn drop(&mut self) {
        self.coord.unlock(writer_lock(self.slot));
    }
}

// ----- encoding ---------------------------------------------------------------------------

fn split(id: Uuid) -> (u64, u64) {
    let value = id.as_u128();
    ((value >> 64) as u64, value as u64)
}

fn join(hi: u64, lo: u64) -> Uuid {
    Uuid::from_u128((u128::from(hi) << 64) | u128::from(lo))
}

fn name_hash(name: &str) -> u64 {
    // FNV-1a: names are chosen by the host, not an attacker, and only tell slots apart.
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn checksum(words: &[u64]) -> u64 {
    mix(&words[R_GEN..R_CHECKSUM])
}

fn mix(words: &[u64]) -> u64 {
    words.iter().fold(0x9e37_79b9_7f4a_7c15u64, |hash, &word| {
        let mixed = (hash ^ word).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        mixed ^ (mixed >> 31)
    })
}

fn encode_record(record: &Record) -> [u64; RECORD_WORDS] {
    let mut w = [0u64; RECORD_WORDS];
    let state = &record.state;
    w[R_GEN] = u64::from(record.generation);
    let mut flags = 0;
    if state.in_background {
        flags |= F_BACKGROUND;
    }
    if state.anonymous {
        flags |= F_ANONYMOUS;
    }
    (w[R_USER], w[R_USER + 1]) = split(state.user_id);
    w[R_SESSION_INDEX] = u64::from(state.session_index);
    if let Some(last) = state.last_session_id {
        flags |= F_LAST_SESSION;
        (w[R_LAST_SESSION], w[R_LAST_SESSION + 1]) = split(last);
    }
    if let Some(session) = &state.session {
        flags |= F_SESSION;
        (w[R_SESSION], w[R_SESSION + 1]) = split(session.id);
        if let Some(previous) = session.previous_id {
            flags |= F_PREVIOUS;
            (w[R_PREVIOUS], w[R_PREVIOUS + 1]) = split(previous);
        }
        w[R_STARTED] = session.started_at as u64;
        if let Some(first) = session.first_event {
            flags |= F_FIRST;
            (w[R_FIRST_ID], w[R_FIRST_ID + 1]) = split(first.id);
            w[R_FIRST_TS] = first.timestamp as u64;
            w[R_FIRST_COUNTED] = first.counted_at as u64;
        }
        w[R_BG] = u64::from(session.background_index);
        w[R_FG] = u64::from(session.foreground_index);
        w[R_EVENT_INDEX] = u64::from(session.event_index);
        w[R_ACTIVITY] = session.last_activity as u64;
    }
    w[R_FLAGS] = flags;
    w[R_RESERVED] = u64::from(record.reserved);
    w[R_STORED_GEN] = u64::from(record.stored_gen);
    w[R_CHECKSUM] = checksum(&w);
    w
}

fn decode_record(w: &[u64; RECORD_WORDS]) -> Option<Record> {
    if w[R_GEN] == 0 || w[R_CHECKSUM] != checksum(w) {
        return None;
    }
    let index = |value: u64| u32::try_from(value).ok().filter(|&v| v <= MAX_INDEX);
    let time = |value: u64| {
        let value = value as i64;
        crate::timestamp::is_valid(value).then_some(value)
    };
    let flags = w[R_FLAGS];
    let session = if flags & F_SESSION != 0 {
        Some(Session {
            id: join(w[R_SESSION], w[R_SESSION + 1]),
            previous_id: (flags & F_PREVIOUS != 0).then(|| join(w[R_PREVIOUS], w[R_PREVIOUS + 1])),
            event_index: index(w[R_EVENT_INDEX])?,
            first_event: if flags & F_FIRST != 0 {
                Some(FirstEvent {
                    id: join(w[R_FIRST_ID], w[R_FIRST_ID + 1]),
                    timestamp: time(w[R_FIRST_TS])?,
                    counted_at: time(w[R_FIRST_COUNTED])?,
                })
            } else {
                None
            },
            started_at: time(w[R_STARTED])?,
            last_activity: time(w[R_ACTIVITY])?,
            background_index: index(w[R_BG])?,
            foreground_index: index(w[R_FG])?,
        })
    } else {
        None
    };
    Some(Record {
        generation: u32::try_from(w[R_GEN]).ok()?,
        state: NamespaceState {
            user_id: join(w[R_USER], w[R_USER + 1]),
            session_index: index(w[R_SESSION_INDEX])?,
            last_session_id: (flags & F_LAST_SESSION != 0)
                .then(|| join(w[R_LAST_SESSION], w[R_LAST_SESSION + 1])),
            in_background: flags & F_BACKGROUND != 0,
            anonymous: flags & F_ANONYMOUS != 0,
            session,
        },
        reserved: index(w[R_RESERVED])?,
        stored_gen: u32::try_from(w[R_STORED_GEN]).ok()?,
    })
}

// ----- file I/O ---------------------------------------------------------------------------

fn open_or_create(path: &Path) -> Result<(File, bool)> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut create = std::fs::OpenOptions::new();
    create.read(true).write(true).create_new(true).mode(0o600);
    match create.open(path) {
        Ok(file) => return Ok((file, true)),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(err) => return Err(io_error("cannot create the coordination file", err)),
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map(|file| (file, false))
        .map_err(|e| io_error("cannot open the coordination file", e))
}

fn read_at(file: &File, buffer: &mut [u8], offset: u64) -> usize {
    use std::os::unix::fs::FileExt;
    let mut done = 0;
    while done < buffer.len() {
        match file.read_at(&mut buffer[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    done
}

fn write_all_at(file: &File, bytes: &[u8], offset: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.write_all_at(bytes, offset)
}

// ----- read-only inspection ---------------------------------------------------------------

/// What a reader that must never change the file (`sesh-inspect`) finds in it: the header
/// and every claimed slot, read from a copy of its bytes. Nothing here maps, locks or
/// writes the file; [`holder_pids`] only asks the kernel who holds the lock bytes.
#[derive(Debug, Clone)]
pub struct Image {
    pub store_id: Uuid,
    /// The user id the file holds (`None` until a handle set one) and its sequence.
    pub user: Option<Uuid>,
    pub user_seq: u64,
    pub slots: Vec<SlotImage>,
}

/// One claimed namespace slot of an [`Image`].
#[derive(Debug, Clone)]
pub struct SlotImage {
    pub slot: usize,
    /// The namespace's name (its first 128 bytes, as the slot keeps them).
    pub name: String,
    name_len: u64,
    name_hash: u64,
    /// False when the slot's identity words fail their checksum (the next opener frees it).
    pub identity_ok: bool,
    /// The hot line: generation and event index in one word, and last activity (ms).
    pub gen_index: u64,
    pub last_activity: i64,
    /// The newest record copy that is whole (sequence even, checksum right).
    pub newest: Option<Record>,
    /// How many of the two copies were whole.
    pub whole_copies: usize,
}

impl SlotImage {
    /// Whether this slot is the one the library picks for `namespace`.
    pub fn is_for(&self, namespace: &str) -> bool {
        self.identity_ok
            && self.name.as_bytes() == &namespace.as_bytes()[..namespace.len().min(NAME_PREFIX)]
            && self.name_len == namespace.len() as u64
            && self.name_hash == name_hash(namespace)
    }
}

/// The size in bytes of a coordination file of this layout.
pub fn file_size() -> usize {
    FILE_SIZE
}

/// Reads a coordination file's bytes (all [`FILE_SIZE`] of them). `Err` says why the file
/// is not one the library would use as it is (it would refuse or rebuild it).
pub fn read_image(bytes: &[u8]) -> std::result::Result<Image, String> {
    let word = |index: usize| -> u64 {
        bytes
            .get(index * 8..index * 8 + 8)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u64::from_le_bytes)
    };
    if bytes.len() < 8 || word(H_MAGIC) != MAGIC {
        return Err("it is not a sesh coordination file (the library refuses it)".into());
    }
    if bytes.len() < 24 || word(H_VERSION) != VERSION {
        return Err(format!(
            "it has layout version {}, not {VERSION} (the library rebuilds it)",
            word(H_VERSION)
        ));
    }
    if word(H_SIZE) != FILE_SIZE as u64 || bytes.len() != FILE_SIZE {
        return Err(format!(
            "it is {} bytes, not {FILE_SIZE} (the library rebuilds it)",
            bytes.len()
        ));
    }
    let user_seq = word(H_USER_SEQ);
    let user = (user_seq > 0 && user_seq & 1 == 0).then(|| join(word(H_USER), word(H_USER + 1)));
    let mut slots = Vec::new();
    for slot in 0..SLOTS {
        let at = |index: usize| word(HEADER_WORDS + slot * SLOT_WORDS + index);
        let identity = at(S_IDENTITY);
        if identity & CLAIMED == 0 {
            continue;
        }
        let identity_words: Vec<u64> = (S_IDENTITY..S_IDENTITY_CHECK).map(at).collect();
        let length = (identity & !CLAIMED).min(NAME_PREFIX as u64) as usize;
        let mut name = Vec::with_capacity(NAME_PREFIX);
        for i in 0..NAME_PREFIX / 8 {
            name.extend_from_slice(&at(S_NAME + i).to_le_bytes());
        }
        name.truncate(length);
        let copies: Vec<Record> = S_COPIES
            .iter()
            .filter_map(|&copy| {
                let mut words = [0u64; RECORD_WORDS];
                for (i, w) in words.iter_mut().enumerate() {
                    *w = at(copy + i);
                }
                if words[R_SEQ] & 1 == 1 {
                    return None;
                }
                decode_record(&words)
            })
            .collect();
        slots.push(SlotImage {
            slot,
            name: String::from_utf8_lossy(&name).into_owned(),
            name_len: identity & !CLAIMED,
            name_hash: at(S_NAME_HASH),
            identity_ok: at(S_IDENTITY_CHECK) == mix(&identity_words),
            gen_index: at(S_GEN_INDEX),
            last_activity: at(S_ACTIVITY) as i64,
            whole_copies: copies.len(),
            newest: copies.into_iter().max_by_key(|record| record.generation),
        });
    }
    Ok(Image {
        store_id: join(word(H_STORE_ID), word(H_STORE_ID + 1)),
        user,
        user_seq,
        slots,
    })
}

/// The processes holding `slot` of the coordination file open as `file` (read-only is
/// enough): `F_GETLK` on its holder byte and on its writer byte, which takes no lock and
/// names one process holding a conflicting one (or none). Returns (holder, writer).
pub fn holder_pids(file: &File, slot: usize) -> (Option<i32>, Option<i32>) {
    let probe = |at: i64| -> Option<i32> {
        // SAFETY: a zeroed flock is a valid value; every field that matters is set below.
        let mut request: libc::flock = unsafe { std::mem::zeroed() };
        request.l_type = libc::F_WRLCK as libc::c_short;
        request.l_whence = libc::SEEK_SET as libc::c_short;
        request.l_start = at as libc::off_t;
        request.l_len = 1;
        // SAFETY: a valid descriptor and a valid flock; F_GETLK only reports.
        let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut request) };
        (rc == 0 && request.l_type != libc::F_UNLCK as libc::c_short).then_some(request.l_pid)
    };
    (probe(holder_lock(slot)), probe(writer_lock(slot)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        Record {
            generation: 7,
            state: NamespaceState {
                user_id: Uuid::from_u128(1),
                session_index: 3,
                last_session_id: Some(Uuid::from_u128(2)),
                in_background: true,
                anonymous: false,
                session: Some(Session {
                    id: Uuid::from_u128(2),
                    previous_id: Some(Uuid::from_u128(9)),
                    event_index: 12,
                    first_event: Some(FirstEvent {
                        id: Uuid::from_u128(4),
                        timestamp: 1000,
                        counted_at: 1001,
                    }),
                    started_at: 900,
                    last_activity: 5000,
                    background_index: 2,
                    foreground_index: 1,
                }),
            },
            reserved: 40,
            stored_gen: 6,
        }
    }

    #[test]
    fn a_record_round_trips_and_a_flipped_bit_is_refused() {
        let record = sample();
        let words = encode_record(&record);
        assert_eq!(decode_record(&words), Some(record));
        for word in 1..RECORD_WORDS {
            let mut damaged = words;
            damaged[word] ^= 1 << (word % 64);
            assert_eq!(decode_record(&damaged), None, "word {word}");
        }
    }

    #[test]
    fn generations_skip_zero_and_keep_the_frozen_bit_apart() {
        assert_eq!(next_gen(GEN_MASK), 1);
        let word = pack(GEN_MASK, 5) | FROZEN;
        assert!(is_frozen(word));
        assert_eq!(gen_of(word), GEN_MASK);
        assert_eq!(index_of(word), 5);
    }
}

//! The per-event protocol on a namespace's hot line, written once over [`Word`] so that the
//! coordination file runs it on its mapped atomics and `tests/loom_protocol.rs` model-checks
//! the same code on loom's.
//!
//! Two words: `gen_index` (the record's generation, high; the session's event index, low;
//! [`FROZEN`] while a writer changes the record) and `activity` (last activity, ms).
//! - An event: read `gen_index` (`seen`), decide, [`count`]: raise `activity` to its time,
//!   then exchange `seen` for `seen + 1`. Success hands out index `index_of(seen) + 1`.
//! - A writer, under the namespace's writer lock: [`freeze`], read both words, change the
//!   record, [`publish`] the next generation.
//!
//! Why it holds: an exchange succeeds only against the exact word it read, and every
//! writer's freeze changes that word, so an event is counted at most once, in the
//! generation whose record it was judged against, and never after a freeze. Activity is
//! raised before the exchange, so a writer that freezes after an event was counted reads
//! that event's activity (the fetch-max happens-before the successful exchange, which
//! happens-before the freeze that observes its result).

/// The generation's top bit in `gen_index`: a writer is changing the record.
pub const FROZEN: u64 = 1 << 63;

/// A 64-bit atomic word, as the protocol uses it.
pub trait Word {
    fn load(&self) -> u64;
    fn fetch_max(&self, value: u64) -> u64;
    fn fetch_or(&self, value: u64) -> u64;
    fn compare_exchange(&self, current: u64, new: u64) -> Result<u64, u64>;
    fn store(&self, value: u64);
}

impl Word for std::sync::atomic::AtomicU64 {
    fn load(&self) -> u64 {
        self.load(std::sync::atomic::Ordering::Acquire)
    }
    fn fetch_max(&self, value: u64) -> u64 {
        self.fetch_max(value, std::sync::atomic::Ordering::AcqRel)
    }
    fn fetch_or(&self, value: u64) -> u64 {
        self.fetch_or(value, std::sync::atomic::Ordering::AcqRel)
    }
    fn compare_exchange(&self, current: u64, new: u64) -> Result<u64, u64> {
        self.compare_exchange(
            current,
            new,
            std::sync::atomic::Ordering::AcqRel,
            std::sync::atomic::Ordering::Acquire,
        )
    }
    fn store(&self, value: u64) {
        self.store(value, std::sync::atomic::Ordering::Release)
    }
}

/// The event's publish step: raises last activity to `now`, then counts the event if
/// `gen_index` still reads `seen`. False: something changed; read again.
pub fn count<W: Word + ?Sized>(gen_index: &W, activity: &W, seen: u64, now: u64) -> bool {
    if now > activity.load() {
        activity.fetch_max(now);
    }
    gen_index.compare_exchange(seen, seen + 1).is_ok()
}

/// A writer stops the per-event path; returns the word as it was (frozen already when the
/// previous writer died mid-change).
pub fn freeze<W: Word + ?Sized>(gen_index: &W) -> u64 {
    gen_index.fetch_or(FROZEN)
}

/// A writer publishes its generation, the event index and last activity.
pub fn publish<W: Word + ?Sized>(gen_index: &W, activity: &W, word: u64, last_activity: u64) {
    activity.store(last_activity);
    gen_index.store(word & !FROZEN);
}

//! Clocks: where "now" comes from.

use crate::timestamp::system_time_ms;
use std::time::SystemTime;

/// A source of "now" in milliseconds since the Unix epoch. Read from any thread.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;

    /// Told at open the last activity the store holds. An injected clock is the only clock
    /// and ignores it; the system clock uses it to absorb its own jitter (see
    /// [`SystemClock`]).
    fn not_before(&self, _floor_ms: i64) {}

    /// How far behind a last activity that another process recorded this clock may read
    /// and still be taken for the two clocks' jitter rather than a clock set back. An
    /// injected clock is the only clock: 0.
    fn allowance_ms(&self) -> i64 {
        0
    }
}

/// How far behind a persisted last activity the system clock may read at open and still
/// be taken for jitter (a relaunch within a second, a slewed wall clock) rather than a
/// clock set back.
pub const SYSTEM_CLOCK_JITTER_MS: i64 = 1000;

/// Where the default clock reads time: the wall clock and a monotonic clock that keeps
/// counting while the device sleeps. The seam lets a test step the wall clock.
pub trait TimeSources: Send + Sync {
    /// Milliseconds since the Unix epoch, as the device's wall clock says.
    fn wall_ms(&self) -> i64;
    /// Milliseconds from an arbitrary origin that never goes back.
    fn monotonic_ms(&self) -> i64;
}

/// The device's own clocks.
#[derive(Debug, Default, Clone, Copy)]
pub struct DeviceTime;

impl TimeSources for DeviceTime {
    fn wall_ms(&self) -> i64 {
        system_time_ms(SystemTime::now())
    }

    fn monotonic_ms(&self) -> i64 {
        monotonic_ms()
    }
}

/// The default clock: the wall clock read once at open, then advanced by a monotonic clock
/// that keeps counting while the device sleeps. A wall-clock step (NTP, the user changing
/// the time) therefore neither splits nor stretches a running session; the next open
/// reads the wall clock again, so across a restart the wall clock judges.
pub struct SystemClock {
    sources: Box<dyn TimeSources>,
    wall_at_open_ms: i64,
    monotonic_at_open_ms: i64,
    /// Added to readings: at most [`SYSTEM_CLOCK_JITTER_MS`], set once at open.
    catch_up_ms: std::sync::atomic::AtomicI64,
}

impl std::fmt::Debug for SystemClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemClock")
            .field("wall_at_open_ms", &self.wall_at_open_ms)
            .finish_non_exhaustive()
    }
}

impl SystemClock {
    pub fn new() -> Self {
        Self::with_sources(Box::new(DeviceTime))
    }

    /// The default clock on other time sources (tests).
    pub fn with_sources(sources: Box<dyn TimeSources>) -> Self {
        SystemClock {
            wall_at_open_ms: sources.wall_ms(),
            monotonic_at_open_ms: sources.monotonic_ms(),
            sources,
            catch_up_ms: std::sync::atomic::AtomicI64::new(0),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        let elapsed = self
            .sources
            .monotonic_ms()
            .saturating_sub(self.monotonic_at_open_ms)
            .max(0);
        self.wall_at_open_ms
            .saturating_add(elapsed)
            .saturating_add(self.catch_up_ms.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// A reading a little behind what the last run stored is the clocks' jitter, not the
    /// user setting the clock back: the readings move forward to meet it, so that a
    /// relaunch within a second neither ends the session nor sees time go back.
    fn not_before(&self, floor_ms: i64) {
        let behind = floor_ms.saturating_sub(self.now_ms());
        if behind > 0 && behind <= SYSTEM_CLOCK_JITTER_MS {
            self.catch_up_ms
                .fetch_add(behind, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn allowance_ms(&self) -> i64 {
        SYSTEM_CLOCK_JITTER_MS
    }
}

/// A monotonic reading that includes time asleep: a phone in a pocket must still time out
/// its background session.
#[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
fn monotonic_ms() -> i64 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const CLOCK: libc::clockid_t = libc::CLOCK_BOOTTIME;
    // Darwin's CLOCK_MONOTONIC keeps counting during sleep (CLOCK_UPTIME_RAW does not).
    #[cfg(target_vendor = "apple")]
    const CLOCK: libc::clockid_t = libc::CLOCK_MONOTONIC;
    let mut spec = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `spec` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(CLOCK, &mut spec) };
    if rc != 0 {
        return fallback_monotonic_ms();
    }
    // `time_t` and `c_long` are 32 bits on some targets, where these casts widen.
    #[allow(clippy::unnecessary_cast)]
    let (seconds, nanos) = (spec.tv_sec as i64, spec.tv_nsec as i64);
    seconds
        .saturating_mul(1000)
        .saturating_add(nanos / 1_000_000)
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
fn monotonic_ms() -> i64 {
    fallback_monotonic_ms()
}

fn fallback_monotonic_ms() -> i64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    let origin = *ORIGIN.get_or_init(Instant::now);
    i64::try_from(origin.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// A clock that reads whatever it was last set to: the tests' and the replay driver's.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: std::sync::atomic::AtomicI64,
}

impl ManualClock {
    pub fn new(now_ms: i64) -> Self {
        ManualClock {
            now: std::sync::atomic::AtomicI64::new(now_ms),
        }
    }

    pub fn set(&self, now_ms: i64) {
        self.now.store(now_ms, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn advance(&self, by_ms: i64) {
        self.now
            .fetch_add(by_ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now_ms(&self) -> i64 {
        (**self).now_ms()
    }

    fn not_before(&self, floor_ms: i64) {
        (**self).not_before(floor_ms)
    }

    fn allowance_ms(&self) -> i64 {
        (**self).allowance_ms()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_starts_at_wall_time_and_never_goes_back() {
        let before = system_time_ms(SystemTime::now());
        let clock = SystemClock::new();
        let first = clock.now_ms();
        let second = clock.now_ms();
        assert!(first >= before && first - before < 60_000);
        assert!(second >= first);
    }

    #[test]
    fn system_clock_meets_a_stored_time_a_little_ahead_but_not_far_ahead() {
        let clock = SystemClock::new();
        let now = clock.now_ms();
        clock.not_before(now + 600);
        assert!(clock.now_ms() >= now + 600);
        let later = SystemClock::new();
        let now = later.now_ms();
        later.not_before(now + 5_000);
        assert!(later.now_ms() < now + 5_000);
    }
}

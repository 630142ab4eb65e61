//! Identifiers: parsing the hosts' UUIDs and generating new ones.

use uuid::Uuid;

/// The user id shown in anonymous mode.
pub const ANONYMOUS_USER_ID: Uuid = Uuid::nil();

/// Parses a UUID written 8-4-4-4-12 in hex digits of any case (and no other form).
pub fn parse_hyphenated(text: &str) -> Option<Uuid> {
    // `Uuid::try_parse` also takes the simple, braced and URN forms; only 36 characters is
    // the hyphenated one.
    if text.len() != 36 {
        return None;
    }
    Uuid::try_parse(text).ok()
}

/// Where the engine's new ids come from: random in production, predictable in tests.
pub trait IdGenerator: Send {
    /// A new UUIDv4.
    fn next_id(&mut self) -> Uuid;
}

/// Random UUIDv4s from [`random_uuid`].
#[derive(Debug, Default)]
pub struct RandomIds;

impl IdGenerator for RandomIds {
    fn next_id(&mut self) -> Uuid {
        random_uuid()
    }
}

/// A random UUIDv4 from a ChaCha12 generator kept per thread and seeded from the operating
/// system's generator (`getrandom`) on the thread's first draw: one system call per thread
/// instead of one per id. A forked child reseeds before its first draw (a `pthread_atfork`
/// handler moves the process's fork count), so parent and child never draw the same ids.
/// Should the operating system's generator fail, the id comes from it through `uuid`
/// (which panics, as `Uuid::new_v4` always did).
pub fn random_uuid() -> Uuid {
    let mut bytes = [0u8; 16];
    if !csprng::fill(&mut bytes) {
        return Uuid::new_v4();
    }
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

mod csprng {
    use chacha20::ChaCha12Rng;
    use chacha20::rand_core::{Rng, SeedableRng};
    use std::cell::RefCell;
    #[cfg(unix)]
    use std::sync::Once;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Moved in every child a `fork` makes: a thread's generator seeded under another count
    /// was copied from the parent.
    static FORKS: AtomicU64 = AtomicU64::new(0);
    #[cfg(unix)]
    static WATCH_FORKS: Once = Once::new();

    // In every POSIX C library (glibc, musl, bionic, Apple's libSystem); declared here
    // since the libc crate has it only for some of them. (The web build has no fork.)
    /// cbindgen:ignore
    #[allow(unused_doc_comments)]
    #[cfg(unix)]
    unsafe extern "C" {
        fn pthread_atfork(
            prepare: Option<unsafe extern "C" fn()>,
            parent: Option<unsafe extern "C" fn()>,
            child: Option<unsafe extern "C" fn()>,
        ) -> libc::c_int;
    }

    /// Runs in the child, single-threaded, right after `fork`: one atomic add, which is
    /// async-signal-safe.
    #[cfg(unix)]
    unsafe extern "C" fn forked() {
        FORKS.fetch_add(1, Ordering::Relaxed);
    }

    thread_local! {
        /// The thread's generator and the fork count it was seeded under.
        static GENERATOR: RefCell<Option<(u64, ChaCha12Rng)>> = const { RefCell::new(None) };
    }

    /// Fills `out` with random bytes; false when the operating system's generator could not
    /// seed this thread's (or the thread is being torn down).
    pub fn fill(out: &mut [u8]) -> bool {
        #[cfg(unix)]
        WATCH_FORKS.call_once(|| {
            // SAFETY: registers a handler that only moves an atomic; it stays valid for as
            // long as this library is loaded.
            let _ = unsafe { pthread_atfork(None, None, Some(forked)) };
        });
        let forks = FORKS.load(Ordering::Relaxed);
        GENERATOR
            .try_with(|cell| {
                let mut slot = cell.borrow_mut();
                let fresh = matches!(&*slot, Some((seeded_at, _)) if *seeded_at == forks);
                if !fresh {
                    let mut seed = [0u8; 32];
                    if getrandom::fill(&mut seed).is_err() {
                        return false;
                    }
                    *slot = Some((forks, ChaCha12Rng::from_seed(seed)));
                }
                match slot.as_mut() {
                    Some((_, generator)) => {
                        generator.fill_bytes(out);
                        true
                    }
                    None => false,
                }
            })
            .unwrap_or(false)
    }
}

/// UUIDv4s from a counter: `00000000-0000-4000-8000-000000000001`, then `…002`, and so on.
#[derive(Debug, Default)]
pub struct SequentialIds {
    issued: u64,
}

impl IdGenerator for SequentialIds {
    fn next_id(&mut self) -> Uuid {
        self.issued += 1;
        let mut bytes = [0u8; 16];
        bytes[8..].copy_from_slice(&self.issued.to_be_bytes());
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_the_hyphenated_form_in_any_case() {
        let lower = "0f8fad5b-d9cb-469f-a165-70867728950e";
        let upper = "0F8FAD5B-D9CB-469F-A165-70867728950E";
        assert_eq!(parse_hyphenated(upper), parse_hyphenated(lower));
        assert!(parse_hyphenated(lower).is_some());
        assert!(parse_hyphenated("0f8fad5bd9cb469fa16570867728950e").is_none());
        assert!(parse_hyphenated("{0f8fad5b-d9cb-469f-a165-70867728950e}").is_none());
        assert!(parse_hyphenated("0f8fad5b-d9cb-469f-a165-70867728950g").is_none());
        assert!(parse_hyphenated("0f8fad5b-d9cb4-69f-a165-70867728950e").is_none());
        assert!(parse_hyphenated("").is_none());
    }

    #[test]
    fn random_ids_are_version_4_and_differ() {
        let mut ids = RandomIds;
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let id = ids.next_id();
            assert_eq!(id.get_version_num(), 4);
            assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
            assert!(seen.insert(id), "{id} drawn twice");
        }
        // Another thread has its own generator, seeded on its own.
        let other = std::thread::spawn(|| (0..1_000).map(|_| random_uuid()).collect::<Vec<_>>())
            .join()
            .unwrap();
        for id in other {
            assert!(seen.insert(id), "{id} drawn twice");
        }
    }

    #[test]
    fn a_forked_child_draws_other_ids_than_its_parent() {
        let _ = random_uuid(); // the parent's generator is seeded before the fork
        let mut pipe = [0 as libc::c_int; 2];
        // SAFETY: plain POSIX calls; the child only draws ids, writes them and exits.
        unsafe {
            assert_eq!(libc::pipe(pipe.as_mut_ptr()), 0);
            let pid = libc::fork();
            assert!(pid >= 0);
            if pid == 0 {
                let id = random_uuid();
                libc::write(pipe[1], id.as_bytes().as_ptr().cast(), 16);
                libc::_exit(0);
            }
            libc::close(pipe[1]);
            let mut child = [0u8; 16];
            let read = libc::read(pipe[0], child.as_mut_ptr().cast(), 16);
            libc::close(pipe[0]);
            let mut status = 0;
            libc::waitpid(pid, &mut status, 0);
            assert_eq!(read, 16);
            let parent = random_uuid();
            assert_ne!(
                Uuid::from_bytes(child),
                parent,
                "the child drew the parent's next id"
            );
        }
    }

    #[test]
    fn sequential_ids_are_version_4() {
        let mut ids = SequentialIds::default();
        let first = ids.next_id();
        assert_eq!(first.get_version_num(), 4);
        assert_eq!(first.to_string(), "00000000-0000-4000-8000-000000000001");
        assert_ne!(ids.next_id(), first);
    }
}

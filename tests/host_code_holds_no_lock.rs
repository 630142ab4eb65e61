//! No host code runs while sesh holds a lock that a call on another thread can wait for:
//! each kind of host code here waits (with a bound) for another thread's sesh call on the
//! same handle, and that call must finish. A deadlock shows as a timeout, not a hang.

use sesh::clock::{Clock, ManualClock};
use sesh::engine::Config;
use sesh::error::{Error, Result};
use sesh::id::RandomIds;
use sesh::store::{MemoryStore, SqliteStore, StorageMechanism, Store};
use sesh::tracker::{Hooks, LogLevel, Parts, Tracker};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

const BOUND: Duration = Duration::from_secs(10);

/// The handle the host code calls back on, set once it is open.
#[derive(Default)]
struct Cell(OnceLock<Arc<Tracker>>);

/// Runs `call` on another thread against the handle and waits for it, at most `BOUND`.
/// Counts the calls that finished.
fn other_thread_call(cell: &Cell, done: &AtomicUsize, call: fn(&Tracker)) {
    let Some(tracker) = cell.0.get().cloned() else {
        return;
    };
    let (sent, finished) = channel();
    std::thread::spawn(move || {
        call(&tracker);
        let _ = sent.send(());
    });
    if finished.recv_timeout(BOUND).is_ok() {
        done.fetch_add(1, Ordering::SeqCst);
    } else {
        panic!("another thread's sesh call did not finish while host code waited for it");
    }
}

struct WaitingHooks {
    cell: Arc<Cell>,
    done: Arc<AtomicUsize>,
    armed: Arc<AtomicBool>,
}

impl Hooks for WaitingHooks {
    fn session_started(&self, _entity: &str) {
        if self.armed.load(Ordering::SeqCst) {
            other_thread_call(&self.cell, &self.done, |t| {
                t.track(None, None).unwrap();
            });
        }
    }
    fn session_ended(&self, _summary: &str) {
        if self.armed.load(Ordering::SeqCst) {
            other_thread_call(&self.cell, &self.done, |t| {
                t.track(None, None).unwrap();
            });
        }
    }
    fn log(&self, _level: LogLevel, _message: &str) {
        // Once: the track it waits for fails and logs too.
        if self.armed.swap(false, Ordering::SeqCst) {
            other_thread_call(&self.cell, &self.done, |t| {
                t.entity().unwrap();
                t.track(None, None).unwrap();
            });
        }
    }
}

/// A clock that, when armed, waits for another thread's call before answering.
struct WaitingClock {
    inner: ManualClock,
    cell: Arc<Cell>,
    done: Arc<AtomicUsize>,
    armed: Arc<AtomicBool>,
}

impl Clock for WaitingClock {
    fn now_ms(&self) -> i64 {
        if self.armed.swap(false, Ordering::SeqCst) {
            other_thread_call(&self.cell, &self.done, |t| {
                t.track(None, None).unwrap();
            });
        }
        self.inner.now_ms()
    }
}

/// A store whose `set` fails when told to, and waits for another thread's call.
struct WaitingStore {
    inner: MemoryStore,
    cell: Arc<Cell>,
    done: Arc<AtomicUsize>,
    armed: Arc<AtomicBool>,
    fail: Arc<AtomicBool>,
}

impl Store for WaitingStore {
    fn storage_mechanism(&self) -> StorageMechanism {
        StorageMechanism::LocalStorage
    }
    fn load_user(&mut self) -> Result<Option<String>> {
        self.inner.load_user()
    }
    fn save_user(&mut self, user_id: &str) -> Result<()> {
        self.inner.save_user(user_id)
    }
    fn load_state(&mut self, namespace: &str) -> Result<Option<String>> {
        self.inner.load_state(namespace)
    }
    fn save_state(&mut self, namespace: &str, state: &str) -> Result<()> {
        if self.armed.swap(false, Ordering::SeqCst) {
            // A call whose entity does not wait for this write.
            other_thread_call(&self.cell, &self.done, |t| {
                t.entity().unwrap();
                t.pause().unwrap();
                t.resume().unwrap();
            });
        }
        if self.fail.load(Ordering::SeqCst) {
            return Err(Error::store("the disk is full"));
        }
        self.inner.save_state(namespace, state)
    }
}

#[test]
fn session_callbacks_wait_for_another_threads_call_on_sqlite_and_memory() {
    for sqlite in [true, false] {
        let dir = std::env::temp_dir().join(format!("sesh-nolock-{}-{sqlite}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let cell = Arc::new(Cell::default());
        let done = Arc::new(AtomicUsize::new(0));
        let armed = Arc::new(AtomicBool::new(false));
        let clock = Arc::new(ManualClock::new(1_000_000));
        let store: Box<dyn Store> = if sqlite {
            Box::new(SqliteStore::open(&dir.join("s.db")).unwrap())
        } else {
            Box::new(MemoryStore::new())
        };
        let tracker = Arc::new(
            Tracker::open(Parts {
                config: Config {
                    foreground_timeout_seconds: 10,
                    ..Config::default()
                },
                clock: Box::new(Arc::clone(&clock)),
                ids: Box::new(RandomIds),
                store,
                hooks: Box::new(WaitingHooks {
                    cell: Arc::clone(&cell),
                    done: Arc::clone(&done),
                    armed: Arc::clone(&armed),
                }),
            })
            .unwrap(),
        );
        assert!(cell.0.set(Arc::clone(&tracker)).is_ok());
        tracker.track(None, None).unwrap();
        armed.store(true, Ordering::SeqCst);
        clock.advance(60_000);
        // Ends the timed-out session and starts one: both callbacks wait for a track.
        tracker.track(None, None).unwrap();
        armed.store(false, Ordering::SeqCst);
        assert!(
            done.load(Ordering::SeqCst) >= 2,
            "sqlite {sqlite}: both callbacks waited"
        );
        tracker.close().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn a_clock_and_a_custom_store_that_fail_and_log_wait_for_another_threads_call() {
    let cell = Arc::new(Cell::default());
    let done = Arc::new(AtomicUsize::new(0));
    let clock_armed = Arc::new(AtomicBool::new(false));
    let store_armed = Arc::new(AtomicBool::new(false));
    let log_armed = Arc::new(AtomicBool::new(false));
    let fail = Arc::new(AtomicBool::new(false));
    let tracker = Arc::new(
        Tracker::open(Parts {
            config: Config::default(),
            clock: Box::new(WaitingClock {
                inner: ManualClock::new(1_000_000),
                cell: Arc::clone(&cell),
                done: Arc::clone(&done),
                armed: Arc::clone(&clock_armed),
            }),
            ids: Box::new(RandomIds),
            store: Box::new(WaitingStore {
                inner: MemoryStore::new(),
                cell: Arc::clone(&cell),
                done: Arc::clone(&done),
                armed: Arc::clone(&store_armed),
                fail: Arc::clone(&fail),
            }),
            hooks: Box::new(WaitingHooks {
                cell: Arc::clone(&cell),
                done: Arc::clone(&done),
                armed: Arc::clone(&log_armed),
            }),
        })
        .unwrap(),
    );
    assert!(cell.0.set(Arc::clone(&tracker)).is_ok());
    tracker.track(None, None).unwrap();
    clock_armed.store(true, Ordering::SeqCst);
    tracker.track(None, None).unwrap();
    assert_eq!(
        done.load(Ordering::SeqCst),
        1,
        "the clock waited for a track"
    );
    store_armed.store(true, Ordering::SeqCst);
    tracker.new_session().unwrap();
    assert_eq!(
        done.load(Ordering::SeqCst),
        2,
        "the store's set waited for a call"
    );
    // A failing write is logged: the log callback waits for a getter and a track.
    fail.store(true, Ordering::SeqCst);
    log_armed.store(true, Ordering::SeqCst);
    tracker.new_session().unwrap();
    log_armed.store(false, Ordering::SeqCst);
    assert!(
        done.load(Ordering::SeqCst) >= 3,
        "the log callback waited for a track"
    );
    assert_eq!(
        tracker.last_fault().unwrap().map(|f| f.kind),
        Some(sesh::error::ErrorKind::StoreError)
    );
    fail.store(false, Ordering::SeqCst);
    tracker.close().unwrap();
}

//! The SQLite store's write path: every handle and process on one file and namespace share
//! one live state (behaviour §9 in `docs/behaviour.md`) through the [`CoordFile`].
//!
//! **The per-event path** (an event in a running session that already had its first event,
//! under the reservation, same user) takes no lock shared with other handles: it reads the
//! slot's `gen_index` word, checks that its engine holds that generation, runs the engine,
//! raises `last_activity` to the event's time, then compare-exchanges `gen_index` from the
//! word it read to that word + 1. The exchange succeeds only if no event was counted and no
//! record changed since the read, so every event index is handed out once, in one session:
//! - two events race: one exchange fails, and that event is run again on the new word;
//! - a writer changes the record: it sets the FROZEN bit first (under the writer lock), so
//!   every exchange against the old word fails and those events take the writer lock;
//! - last activity is raised *before* the exchange, so a writer that froze the word after
//!   the exchange sees the activity of every event counted before the freeze. An event
//!   killed between the two moved last activity without drawing an index, and one killed
//!   after the exchange drew an index it never returned: the only losses behaviour §5 allows.
//!
//! Both words live in a shared map: a process killed at any instant leaves them as the
//! last completed atomic operation set them, which the next holder reads as they are.
//!
//! **The writer path** (anything else) runs under the slot's writer lock (an in-process
//! mutex and an `fcntl` lock, which the kernel drops when a process dies): freeze, read the
//! record, run the engine, write the record's older copy, write SQLite (one transaction),
//! note in the record that SQLite has it, publish the new generation. A writer killed at
//! any step leaves the word frozen and a whole record at least as new as SQLite's state,
//! with the exact event index (SQLite holds a reservation); the next writer takes it.

use super::coord::{self, CoordFile, Record, WriterGuard};
use super::{Change, change};
use crate::engine::state::{self, MAX_INDEX, NamespaceState};
use crate::engine::{Engine, Notice};
use crate::error::{Error, Result};
use crate::store::Store;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use uuid::Uuid;

/// Event indexes SQLite covers ahead of the live index, at least: the per-event path writes
/// SQLite once per reservation. Lost only when the coordination file is (then the session
/// goes on past them, never repeating one).
pub const RESERVE_BLOCK: u32 = 1024;

/// The most a reservation covers. Between the two, a reservation covers as many indexes as
/// the session has counted, so that a long, busy session writes SQLite a few times per
/// doubling of its event index rather than once per 1,024 events, and the jump a lost
/// coordination file causes stays within the session's own size.
pub const MAX_RESERVE_BLOCK: u32 = 65_536;

/// The event index SQLite is to hold while the live one is `index`.
pub fn reservation(index: u32) -> u32 {
    index
        .saturating_add(index.clamp(RESERVE_BLOCK, MAX_RESERVE_BLOCK))
        .min(MAX_INDEX)
}

/// How many times the per-event path tries before it takes the writer lock.
const FAST_TRIES: usize = 8;

/// What this handle's engine last took from the slot, and where the slot is. Lives under
/// the engine lock, so that the per-event path reads it without another lock and a writer
/// can move the handle to a new coordination file (the old one was deleted or replaced).
pub struct Synced {
    at: Attachment,
    view: View,
}

/// A coordination file and the namespace's slot in it.
pub struct Attachment {
    coord: Arc<CoordFile>,
    slot: usize,
}

impl Attachment {
    /// `record` with the live counters when it is the record the slot's word names.
    fn with_counters(&self, mut record: Record, raw: u64) -> Record {
        if coord::gen_of(raw) == record.generation {
            if let Some(session) = record.state.session.as_mut() {
                session.event_index = coord::index_of(raw);
                session.last_activity = self
                    .coord
                    .last_activity(self.slot)
                    .max(session.last_activity);
            }
        }
        record
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct View {
    generation: u32,
    user_seq: u64,
    reserved: u32,
}

/// One handle's part in a shared namespace.
pub struct Shared {
    store: Mutex<Box<dyn Store>>,
    namespace: String,
    database: std::path::PathBuf,
    store_id: Uuid,
}

/// What opening made.
pub struct Opened {
    pub shared: Shared,
    pub engine: Engine,
    pub synced: Synced,
}

/// What the store held at open, as the tracker read it.
pub struct Persisted {
    /// The user id SQLite holds (or the one made for it).
    pub user_id: Uuid,
    /// The user id was unreadable: every namespace starts clean under a new one.
    pub user_is_new: bool,
    /// The namespace's state and the generation it was written at.
    pub state: Option<(NamespaceState, u32)>,
    /// The namespace's state was there but unreadable: it starts clean.
    pub state_unreadable: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How the engine is made once the namespace's state is known.
pub type MakeEngine<'a> = dyn FnOnce(Option<NamespaceState>, bool, Uuid) -> Result<Engine> + 'a;

impl Shared {
    /// Joins the namespace, or holds it first: `make(state, first, user)` makes the engine
    /// (with the restart rules when `first`). What opening changed is published before
    /// this returns.
    pub fn open(
        mut store: Box<dyn Store>,
        namespace: &str,
        persisted: Persisted,
        faults: &mut Vec<Error>,
        make: Box<MakeEngine<'_>>,
    ) -> Result<Opened> {
        let path = store
            .database_path()
            .ok_or_else(|| Error::store("the store has no database file"))?
            .to_path_buf();
        let store_id = store
            .claim_store_id(&crate::id::random_uuid().to_string())
            .and_then(|id| {
                crate::id::parse_hyphenated(&id)
                    .ok_or_else(|| Error::corrupt("the store id is not a UUID"))
            })?;
        let shared = Shared {
            store: Mutex::new(store),
            namespace: namespace.to_owned(),
            database: path,
            store_id,
        };
        let (at, created) = shared.attach(faults)?;
        let guard = at.coord.lock_writer(at.slot)?;
        let first = at.coord.hold(at.slot)?;
        let opened = shared.open_held(&at, &guard, first, created, persisted, faults, make);
        drop(guard);
        match opened {
            Ok((engine, view)) => Ok(Opened {
                shared,
                engine,
                synced: Synced { at, view },
            }),
            Err(err) => {
                at.coord.release(at.slot);
                Err(err)
            }
        }
    }

    /// Maps the database's coordination file and finds the namespace's slot.
    fn attach(&self, faults: &mut Vec<Error>) -> Result<(Attachment, bool)> {
        let (coord, attached) = CoordFile::attach(&self.database, self.store_id)?;
        if let Some(why) = &attached.rebuilt {
            faults.push(Error::corrupt(format!(
                "the coordination file was rebuilt from the database: {why}"
            )));
        }
        let slot = coord.slot_for(&self.namespace)?;
        Ok((Attachment { coord, slot }, attached.created))
    }

    #[allow(clippy::too_many_arguments)]
    fn open_held(
        &self,
        at: &Attachment,
        guard: &WriterGuard<'_>,
        first: bool,
        file_created: bool,
        persisted: Persisted,
        faults: &mut Vec<Error>,
        make: Box<MakeEngine<'_>>,
    ) -> Result<(Engine, View)> {
        let raw = at.coord.freeze(guard);
        // The user: the file's when it has one (it is set before SQLite, so it is never
        // older), unless SQLite's was unreadable and every namespace starts clean.
        let (file_user, _) = at.coord.user();
        let user = match file_user {
            Some(user) if !persisted.user_is_new => user,
            _ => persisted.user_id,
        };
        let mut user_seq = at.coord.user_seq();
        if file_user != Some(user) {
            user_seq = at.coord.set_user(user)?;
        }
        let clean = persisted.user_is_new || persisted.state_unreadable;
        let newest = at.coord.newest_record(at.slot);
        let base = if clean {
            None
        } else {
            self.choose(at, newest, persisted.state, raw, file_created, faults)
        };
        let known = base.as_ref().map(|record| record.state.clone());
        let mut engine = make(known, first, user)?;
        if persisted.user_is_new {
            // Published as a change below, with the state, in one transaction.
            engine.mark_user_changed();
        }
        let base = base.unwrap_or_else(|| Record::unwritten(engine.state().clone()));
        let mut view = View {
            generation: 0,
            user_seq,
            reserved: 0,
        };
        let user_change = engine.take_user_change();
        self.commit(
            at,
            guard,
            &base,
            raw,
            engine.state(),
            user_change,
            &mut view,
            faults,
        );
        Ok((engine, view))
    }

    /// The newer of the coordination record and SQLite's state, with the live counters
    /// when the record is the one the slot's word names. Falling back to SQLite for a
    /// running session is a fault (its event indexes skip to the reservation) unless the
    /// record was never there to lose.
    fn choose(
        &self,
        at: &Attachment,
        newest: Option<Record>,
        stored: Option<(NamespaceState, u32)>,
        raw: u64,
        file_created: bool,
        faults: &mut Vec<Error>,
    ) -> Option<Record> {
        let stored_gen = stored.as_ref().map_or(0, |(_, generation)| *generation);
        if let Some(record) = &newest {
            if record.generation >= stored_gen {
                return Some(at.with_counters(record.clone(), raw));
            }
        }
        let (state, generation) = stored?;
        // A record older than SQLite's state means the coordination file was lost or
        // damaged (writers write the record first); a file made now for a database written
        // before coordination existed had none to lose.
        let never_recorded = file_created && generation == 0;
        if state.session.is_some() && !never_recorded {
            faults.push(Error::corrupt(
                "the coordination file had no usable record of the running session: it goes \
                 on from the database, past the event indexes the database reserved",
            ));
        }
        let reserved = state.session.as_ref().map_or(0, |s| s.event_index);
        Some(Record {
            generation,
            state,
            reserved,
            stored_gen: generation,
        })
    }

    /// Takes the slot's state as it is now without a lock, when its record can be read
    /// whole: the hot word it was taken at and the last activity read with it; `None` when
    /// a writer is at work (or died mid-change).
    fn refresh(&self, engine: &mut Engine, synced: &mut Synced) -> Option<(u64, i64)> {
        let user_seq = synced.at.coord.user_seq();
        if user_seq != synced.view.user_seq {
            let (user, seq) = synced.at.coord.user();
            if let Some(user) = user {
                engine.observe_store_user(user);
            }
            synced.view.user_seq = seq;
        }
        let raw = synced.at.coord.gen_index(synced.at.slot);
        if coord::is_frozen(raw) {
            return None;
        }
        if coord::gen_of(raw) == synced.view.generation {
            let activity = synced.at.coord.last_activity(synced.at.slot);
            engine.adopt_counters(coord::index_of(raw), activity);
            return Some((raw, activity));
        }
        let record = synced
            .at
            .coord
            .read_record(synced.at.slot, coord::gen_of(raw))?;
        let record = synced.at.with_counters(record, raw);
        let activity = synced.at.coord.last_activity(synced.at.slot);
        synced.view.generation = record.generation;
        synced.view.reserved = record.reserved;
        engine.adopt_state(record.state);
        Some((raw, activity))
    }

    /// Brings the engine up to the namespace's state (getters).
    pub fn sync(&self, engine: &mut Engine, synced: &mut Synced, faults: &mut Vec<Error>) {
        if self.refresh(engine, synced).is_none() {
            // A writer is at work or died mid-change: wait for it, or repair.
            let _ = self.run(
                engine,
                synced,
                0,
                0,
                &mut Vec::new(),
                faults,
                &mut |_, _, _| (),
            );
        }
    }

    /// Runs `op` on the namespace's state as it is now, and publishes what it changed.
    /// `allowance`: how far behind the namespace's last activity this process's clock may
    /// read and still be taken for another process's clock running a little ahead.
    #[allow(clippy::too_many_arguments)]
    pub fn run<T>(
        &self,
        engine: &mut Engine,
        synced: &mut Synced,
        now: i64,
        allowance: i64,
        notices: &mut Vec<Notice>,
        faults: &mut Vec<Error>,
        op: &mut dyn FnMut(&mut Engine, i64, &mut Vec<Notice>) -> T,
    ) -> Result<T> {
        for _ in 0..FAST_TRIES {
            let Some((seen, activity)) = self.refresh(engine, synced) else {
                // A writer is at work: its change is short (a record, at most one SQLite
                // transaction), and queueing on its lock costs this process a sleep and a
                // wake-up. Wait a little for it; one that died mid-change is repaired on the
                // writer path once the wait runs out.
                if synced.at.coord.wait_unfrozen(synced.at.slot) {
                    continue;
                }
                break;
            };
            let before = engine.state().clone();
            notices.clear();
            let value = op(engine, meet(now, activity, allowance), notices);
            match change(&before, engine.state()) {
                Change::None if !engine.user_changed() => return Ok(value),
                Change::Counted if !engine.user_changed() => {
                    let session = engine.session().map(|s| (s.event_index, s.last_activity));
                    if let Some((index, last)) = session {
                        if index <= synced.view.reserved {
                            if synced.at.coord.count_event(synced.at.slot, seen, last) {
                                return Ok(value);
                            }
                            engine.adopt_state(before);
                            continue;
                        }
                    }
                    engine.adopt_state(before);
                    break;
                }
                _ => {
                    engine.adopt_state(before);
                    let _ = engine.take_user_change();
                    break;
                }
            }
        }
        // The writer path. A handle whose coordination file was deleted or replaced
        // moves to the file now at its path before it changes anything: its old file's
        // counters stay below the reservation SQLite holds, where the new file starts.
        if synced.at.coord.replaced() {
            self.reattach(engine, synced, faults)?;
        }
        let at = &synced.at;
        let guard = at.coord.lock_writer(at.slot)?;
        let raw = at.coord.freeze(&guard);
        let base = self.current(at, &guard, raw, engine, faults);
        let (user, user_seq) = at.coord.user();
        if let Some(user) = user {
            engine.observe_store_user(user);
        }
        synced.view.user_seq = user_seq;
        let activity = base.state.session.as_ref().map_or(now, |s| s.last_activity);
        engine.adopt_state(base.state.clone());
        notices.clear();
        let value = op(engine, meet(now, activity, allowance), notices);
        let user_change = engine.take_user_change();
        self.commit(
            at,
            &guard,
            &base,
            raw,
            engine.state(),
            user_change,
            &mut synced.view,
            faults,
        );
        Ok(value)
    }

    /// The namespace's state as SQLite holds it, with its generation; `None` when there is
    /// none or it cannot be read (the repair paths then start from the record or clean).
    fn stored_state(&self) -> Option<(NamespaceState, u32)> {
        lock(&self.store)
            .load_state(&self.namespace)
            .ok()
            .flatten()
            .and_then(|text| state::decode_at(&text).ok())
    }

    /// Leaves a coordination file that is no longer at the database's side for the one
    /// that is (made and rebuilt from SQLite when missing), holding the namespace there.
    fn reattach(
        &self,
        engine: &mut Engine,
        synced: &mut Synced,
        faults: &mut Vec<Error>,
    ) -> Result<()> {
        faults.push(Error::corrupt(
            "the coordination file was deleted or replaced while in use: this handle moves \
             to the new one",
        ));
        let (at, created) = self.attach(faults)?;
        let guard = at.coord.lock_writer(at.slot)?;
        at.coord.hold(at.slot)?;
        let raw = at.coord.freeze(&guard);
        let stored = self.stored_state();
        let newest = at.coord.newest_record(at.slot);
        let base = self
            .choose(&at, newest, stored, raw, created, &mut Vec::new())
            .unwrap_or_else(|| Record::unwritten(engine.state().clone()));
        self.settle(&at, &guard, &base, raw, &mut synced.view, faults);
        engine.adopt_state(base.state);
        drop(guard);
        let old = std::mem::replace(&mut synced.at, at);
        old.coord.release(old.slot);
        Ok(())
    }

    /// Under the writer lock: the namespace's state as it is now, repaired when a writer
    /// died mid-change or the record is damaged.
    fn current(
        &self,
        at: &Attachment,
        _guard: &WriterGuard<'_>,
        raw: u64,
        engine: &Engine,
        faults: &mut Vec<Error>,
    ) -> Record {
        let newest = at.coord.newest_record(at.slot);
        if let Some(record) = &newest {
            if !coord::is_frozen(raw) && record.generation == coord::gen_of(raw) {
                return at.with_counters(record.clone(), raw);
            }
        }
        let stored = self.stored_state();
        let had_record = newest.is_some();
        match self.choose(at, newest, stored, raw, false, faults) {
            Some(record) => record,
            None => {
                if had_record || coord::gen_of(raw) != 0 {
                    faults.push(Error::corrupt(
                        "the coordination record and the database's state were both \
                         unreadable: the namespace starts clean",
                    ));
                }
                let state = engine.state();
                Record::unwritten(NamespaceState::fresh(
                    engine.store_user(),
                    state.in_background,
                    state.anonymous,
                ))
            }
        }
    }

    /// Under the writer lock: publishes `after` (and a new user id) as the next generation,
    /// or lets the slot go on as it was when nothing changed (or SQLite only lacks the live
    /// counters). SQLite gets the event index reserved ahead.
    #[allow(clippy::too_many_arguments)]
    fn commit(
        &self,
        at: &Attachment,
        guard: &WriterGuard<'_>,
        base: &Record,
        raw: u64,
        after: &NamespaceState,
        user_change: Option<Uuid>,
        view: &mut View,
        faults: &mut Vec<Error>,
    ) {
        let in_step = base.generation != 0
            && base.stored_gen == base.generation
            && coord::gen_of(raw) == base.generation
            && !coord::is_frozen(raw);
        let index = after.session.as_ref().map_or(0, |s| s.event_index);
        let same_session = matches!(
            (&base.state.session, &after.session),
            (Some(old), Some(new)) if old.id == new.id
        );
        if in_step && user_change.is_none() {
            // Nothing changed, or one event counted within the reservation: the record and
            // SQLite stay as they are, and the live counters move as on the per-event path.
            // (A writer that came here only because the per-event path was busy must not
            // cost a generation and an SQLite transaction.)
            let counters = match change(&base.state, after) {
                Change::None => Some((coord::index_of(raw), at.coord.last_activity(at.slot))),
                Change::Counted if index <= base.reserved => after.session.as_ref().map(|s| {
                    (
                        s.event_index,
                        s.last_activity.max(at.coord.last_activity(at.slot)),
                    )
                }),
                _ => None,
            };
            if let Some((index, activity)) = counters {
                at.coord.publish(guard, base.generation, index, activity);
                view.generation = base.generation;
                view.reserved = base.reserved;
                return;
            }
        }
        let generation = coord::next_gen(base.generation.max(coord::gen_of(raw)));
        let reserved = if same_session && index <= base.reserved {
            base.reserved
        } else {
            reservation(index)
        };
        let mut stored = after.clone();
        if let Some(session) = stored.session.as_mut() {
            session.event_index = reserved;
        }
        let text = state::encode_at(&stored, generation);
        // The coordination file first (the user id, then the record), SQLite after: a
        // writer killed at any step leaves a whole record at least as new as SQLite's state,
        // and the record holds the exact event index where SQLite holds the reservation.
        if let Some(user) = user_change {
            match at.coord.set_user(user) {
                Ok(seq) => view.user_seq = seq,
                Err(err) => faults.push(err),
            }
        }
        let mut record = Record {
            generation,
            state: after.clone(),
            reserved,
            stored_gen: base.stored_gen,
        };
        at.coord.write_record(guard, &record);
        let user_text = user_change.map(|u| u.to_string());
        match lock(&self.store).save(user_text.as_deref(), &self.namespace, &text) {
            Ok(()) => {
                record.stored_gen = generation;
                at.coord.write_record(guard, &record);
            }
            Err(err) => {
                // The coordination file still holds it: a kill loses nothing; SQLite gets
                // it with the next write that succeeds.
                faults.push(Error::new(
                    err.kind,
                    format!("store write failed: {}", err.message),
                ));
            }
        }
        let activity = after.session.as_ref().map_or(0, |s| s.last_activity);
        at.coord.publish(guard, generation, index, activity);
        view.generation = generation;
        view.reserved = reserved;
    }

    /// Under the writer lock: publishes `base` as it stands (SQLite gets it only when it
    /// lags the record; a record not yet written gets a generation).
    fn settle(
        &self,
        at: &Attachment,
        guard: &WriterGuard<'_>,
        base: &Record,
        raw: u64,
        view: &mut View,
        faults: &mut Vec<Error>,
    ) {
        self.commit(at, guard, base, raw, &base.state, None, view, faults);
    }

    /// The handle closes: the last holder writes what SQLite lacks; then it no longer holds
    /// the namespace.
    pub fn close(&self, engine: &mut Engine, synced: &mut Synced, faults: &mut Vec<Error>) {
        let at = &synced.at;
        if let Ok(guard) = at.coord.lock_writer(at.slot) {
            if !at.coord.shared_with_others(at.slot) {
                // The last holder leaves nothing SQLite lacks but the live counters, which
                // the coordination file keeps (and SQLite's reservation covers): a write is
                // made only when SQLite is behind the record, so the next open's first
                // event needs none either.
                let raw = at.coord.freeze(&guard);
                let base = self.current(at, &guard, raw, engine, faults);
                self.settle(at, &guard, &base, raw, &mut synced.view, faults);
            }
            at.coord.release(at.slot);
            drop(guard);
        } else {
            at.coord.release(at.slot);
        }
        if let Err(err) = lock(&self.store).flush() {
            faults.push(err);
        }
    }

    /// Stops holding the namespace without writing anything (a stand-in for a kill, and
    /// what a poisoned handle does at close).
    pub fn abandon(&self, synced: &Synced) {
        synced.at.coord.release(synced.at.slot);
    }
}

/// `now`, moved up to `activity` when it reads at most `allowance` behind it: another
/// process's clock running a little ahead is not a clock set back.
pub fn meet(now: i64, activity: i64, allowance: i64) -> i64 {
    if now < activity && activity - now <= allowance {
        activity
    } else {
        now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reservation_covers_as_many_indexes_as_the_session_counted_within_bounds() {
        assert_eq!(reservation(0), RESERVE_BLOCK);
        assert_eq!(reservation(1), 1 + RESERVE_BLOCK);
        assert_eq!(reservation(1024), 2048);
        assert_eq!(reservation(5000), 10_000);
        assert_eq!(reservation(65_536), 131_072);
        assert_eq!(reservation(100_000), 100_000 + MAX_RESERVE_BLOCK);
        assert_eq!(reservation(MAX_INDEX - 10), MAX_INDEX);
    }

    #[test]
    fn meet_lifts_a_clock_only_within_the_allowance() {
        assert_eq!(meet(1000, 1500, 1000), 1500);
        assert_eq!(meet(1000, 2001, 1000), 1000);
        assert_eq!(meet(3000, 1500, 1000), 3000);
    }
}

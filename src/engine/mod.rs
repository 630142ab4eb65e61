//! The session state machine of behaviour §3–§7.
//!
//! Pure: it is told the time, draws ids from an injected generator, and returns what
//! happened. It never reads a clock, touches a store or calls the host; the
//! [`Tracker`](crate::tracker::Tracker) does those outside the engine's lock.

pub mod state;

use crate::error::{Error, Result};
use crate::id::{ANONYMOUS_USER_ID, IdGenerator};
pub use crate::render::{EndReason, EndSummary, StorageMechanism};
use crate::render::{EntityTemplate, IsoTime, LaterEntity, SessionEntity, lifecycle_event_json};
use state::{FirstEvent, MAX_INDEX, NamespaceState, Session};
use uuid::Uuid;

/// The default foreground and background timeout: 30 minutes.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 1800;

/// How a handle behaves; behaviour §1 and §5–§7 give the meaning of each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub namespace: String,
    pub foreground_timeout_seconds: u64,
    pub background_timeout_seconds: u64,
    pub continue_on_restart: bool,
    pub anonymous: bool,
    /// Off: manual mode (sessions start and end only when the host says so).
    pub automatic: bool,
    /// 0: no maximum.
    pub max_duration_seconds: u64,
    pub start_in_background: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            namespace: String::from("default"),
            foreground_timeout_seconds: DEFAULT_TIMEOUT_SECONDS,
            background_timeout_seconds: DEFAULT_TIMEOUT_SECONDS,
            continue_on_restart: true,
            anonymous: false,
            automatic: true,
            max_duration_seconds: 0,
            start_in_background: false,
        }
    }
}

impl Config {
    /// Checks what the type system cannot.
    pub fn validate(&self) -> Result<()> {
        if self.foreground_timeout_seconds == 0 || self.background_timeout_seconds == 0 {
            return Err(Error::invalid("timeouts are whole seconds >= 1"));
        }
        Ok(())
    }

    fn foreground_timeout_ms(&self) -> i64 {
        seconds_to_ms(self.foreground_timeout_seconds)
    }

    fn background_timeout_ms(&self) -> i64 {
        seconds_to_ms(self.background_timeout_seconds)
    }

    fn max_duration_ms(&self) -> Option<i64> {
        (self.max_duration_seconds > 0).then(|| seconds_to_ms(self.max_duration_seconds))
    }
}

fn seconds_to_ms(seconds: u64) -> i64 {
    i64::try_from(seconds)
        .unwrap_or(i64::MAX)
        .saturating_mul(1000)
}

/// An event as the engine counts it: its id and its own timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// `None`: the host gave none. One is generated only if the event becomes its
    /// session's first, the one place an event id is shown.
    pub id: Option<Uuid>,
    pub timestamp_ms: i64,
}

/// Something the host's callbacks are to hear, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A session ended.
    Ended(EndSummary),
    /// A session started; the entity as it stands right after the start.
    Started(String),
}

/// What a background or foreground call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// The app was already in that state: nothing happened.
    Unchanged,
    /// The state flipped; the lifecycle event, and its entity when it belongs to a session.
    Changed {
        lifecycle_event: String,
        entity: Option<String>,
    },
}

/// One namespace's session state machine.
pub struct Engine {
    config: Config,
    ids: Box<dyn IdGenerator>,
    storage: StorageMechanism,
    /// The installation's user id, as the store holds it.
    store_user: Uuid,
    state: NamespaceState,
    paused: bool,
    /// The store's user id changed and the store has not been told yet.
    user_dirty: bool,
    /// The current session's entity, rendered but for its event index.
    template: Option<EntityTemplate>,
}

/// An event's entity: rendered, or to be rendered with no lock held.
#[derive(Debug)]
pub enum Rendering {
    Done(String),
    Later(LaterEntity),
}

impl Rendering {
    pub fn into_string(self) -> String {
        match self {
            Rendering::Done(text) => text,
            Rendering::Later(later) => later.render(),
        }
    }
}

impl Engine {
    /// Opens a namespace on what the store held (behaviour §5): a persisted session either
    /// goes on or ends here, with its end reported in `notices`.
    pub fn open(
        config: Config,
        ids: Box<dyn IdGenerator>,
        storage: StorageMechanism,
        store_user: Uuid,
        persisted: Option<NamespaceState>,
        now: i64,
        notices: &mut Vec<Notice>,
    ) -> Result<Engine> {
        config.validate()?;
        let state = persisted.unwrap_or_else(|| {
            NamespaceState::fresh(store_user, config.start_in_background, config.anonymous)
        });
        let mut engine = Engine::with_state(config, ids, storage, store_user, state);
        if let Some(reason) = engine.reason_to_end_at_open(now) {
            engine.end(reason, notices);
        }
        engine.adopt_store_user();
        engine.state.in_background = engine.config.start_in_background;
        engine.state.anonymous = engine.config.anonymous;
        Ok(engine)
    }

    /// Joins a namespace that another live handle holds (behaviour §9): its session and app
    /// state go on as they are; only an `anonymous` setting other than the namespace's
    /// changes anything (the session ends, none starts, and the namespace takes the mode).
    pub fn join(
        config: Config,
        ids: Box<dyn IdGenerator>,
        storage: StorageMechanism,
        store_user: Uuid,
        state: NamespaceState,
        notices: &mut Vec<Notice>,
    ) -> Result<Engine> {
        config.validate()?;
        let mut engine = Engine::with_state(config, ids, storage, store_user, state);
        if engine.state.anonymous != engine.config.anonymous {
            engine.end(EndReason::AnonymityChanged, notices);
            engine.state.anonymous = engine.config.anonymous;
        }
        engine.adopt_store_user();
        Ok(engine)
    }

    fn with_state(
        config: Config,
        ids: Box<dyn IdGenerator>,
        storage: StorageMechanism,
        store_user: Uuid,
        state: NamespaceState,
    ) -> Engine {
        Engine {
            config,
            ids,
            storage,
            store_user,
            state,
            paused: false,
            user_dirty: false,
            template: None,
        }
    }

    /// Takes the namespace's state as another handle left it (behaviour §9: every call first
    /// takes the state as it is now).
    pub fn adopt_state(&mut self, state: NamespaceState) {
        self.state = state;
    }

    /// Takes the namespace's event index and last activity as the other handles left them:
    /// the per-event path's cheaper [`adopt_state`](Self::adopt_state).
    pub fn adopt_counters(&mut self, event_index: u32, last_activity: i64) {
        if let Some(session) = self.state.session.as_mut() {
            session.event_index = event_index;
            session.last_activity = last_activity;
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    fn reason_to_end_at_open(&self, now: i64) -> Option<EndReason> {
        let session = self.state.session.as_ref()?;
        if self.config.automatic {
            // Judged with the timeout of the state the app was last seen in.
            let timeout = self.timeout_for(self.state.in_background);
            if let Some(reason) = self.expiry(session, now, timeout) {
                return Some(reason);
            }
        }
        if self.state.user_id != self.store_user {
            return Some(EndReason::UserChanged);
        }
        if self.state.anonymous != self.config.anonymous {
            return Some(EndReason::AnonymityChanged);
        }
        if !self.config.continue_on_restart {
            return Some(EndReason::Restart);
        }
        None
    }

    // ----- events -------------------------------------------------------------------------

    /// Counts an event (behaviour §3). Returns its entity, or `None` in manual mode outside a
    /// session (status `no_session`).
    pub fn track(&mut self, now: i64, event: Event, notices: &mut Vec<Notice>) -> Option<String> {
        let started = self.count_event(now, event, notices)?;
        Some(self.announce(started, notices))
    }

    /// [`track`](Self::track)'s first half, which changes the state: counts the event;
    /// whether it started the session, or `None` outside a session (manual mode). The write
    /// path publishes the change before the entity is rendered, so that the time between
    /// reading the shared state and publishing it stays short.
    pub fn count_event(
        &mut self,
        now: i64,
        event: Event,
        notices: &mut Vec<Notice>,
    ) -> Option<bool> {
        let started = self.prepare_event(now, notices);
        self.state.session.as_ref()?;
        self.count(now, event);
        Some(started)
    }

    /// [`track`](Self::track)'s second half, leaving the copy to the caller: an event within
    /// a session comes back as its template's [`LaterEntity`], to be rendered once the engine
    /// lock is released.
    pub fn counted_entity_later(&mut self, started: bool, notices: &mut Vec<Notice>) -> Rendering {
        if !started {
            if let Some(event_index) = self.refresh_template() {
                if let Some(template) = &self.template {
                    return Rendering::Later(template.later(event_index));
                }
            }
        }
        Rendering::Done(self.announce(started, notices))
    }

    /// [`track`](Self::track)'s second half, writing the entity and a NUL into `out` (at
    /// least [`MAX_ENTITY_SIZE`](crate::render::MAX_ENTITY_SIZE) bytes): its length.
    pub fn counted_entity_into(
        &mut self,
        started: bool,
        notices: &mut Vec<Notice>,
        out: &mut [u8],
    ) -> Option<usize> {
        if started {
            let entity = self.announce(true, notices);
            let length = entity.len().min(out.len().saturating_sub(1));
            out[..length].copy_from_slice(&entity.as_bytes()[..length]);
            out[length] = 0;
            return Some(length);
        }
        let event_index = self.refresh_template()?;
        self.template.as_ref()?.render_into(event_index, out)
    }

    /// Moves the app to background or foreground (behaviour §4).
    pub fn transition(
        &mut self,
        now: i64,
        to_background: bool,
        event: Event,
        notices: &mut Vec<Notice>,
    ) -> Transition {
        if self.state.in_background == to_background {
            return Transition::Unchanged;
        }
        // Checked with the timeout of the state it leaves: the one still in force.
        let started = self.prepare_event(now, notices);
        self.state.in_background = to_background;
        let Some(session) = self.state.session.as_mut() else {
            return Transition::Changed {
                lifecycle_event: lifecycle_event_json(to_background, 0),
                entity: None,
            };
        };
        let index = if to_background {
            session.background_index = bump(session.background_index);
            session.background_index
        } else {
            session.foreground_index = bump(session.foreground_index);
            session.foreground_index
        };
        self.count(now, event);
        Transition::Changed {
            lifecycle_event: lifecycle_event_json(to_background, index),
            entity: Some(self.announce(started, notices)),
        }
    }

    /// Renews the session when a rule of §3 says so; true when it started one.
    fn prepare_event(&mut self, now: i64, notices: &mut Vec<Notice>) -> bool {
        if let Some(reason) = self.reason_to_renew(now) {
            self.end(reason, notices);
        }
        self.adopt_store_user();
        if self.state.session.is_none() && self.config.automatic {
            self.start(now);
            return true;
        }
        false
    }

    /// The current entity, reported to the start callback too when the event started the
    /// session.
    fn announce(&mut self, started: bool, notices: &mut Vec<Notice>) -> String {
        let entity = self.render_entity().unwrap_or_default();
        if started {
            notices.push(Notice::Started(entity.clone()));
        }
        entity
    }

    fn count(&mut self, now: i64, event: Event) {
        let paused = self.paused;
        if let Some(session) = self.state.session.as_mut() {
            session.event_index = bump(session.event_index);
            if session.first_event.is_none() {
                session.first_event = Some(FirstEvent {
                    id: event.id.unwrap_or_else(|| self.ids.next_id()),
                    timestamp: event.timestamp_ms,
                    counted_at: now,
                });
            }
            if !paused {
                session.last_activity = now;
            }
        }
    }

    // ----- renewal rules ------------------------------------------------------------------

    fn timeout_for(&self, in_background: bool) -> i64 {
        if in_background {
            self.config.background_timeout_ms()
        } else {
            self.config.foreground_timeout_ms()
        }
    }

    /// Rules 2–4 of §3 for `session` at `now`.
    fn expiry(&self, session: &Session, now: i64, timeout_ms: i64) -> Option<EndReason> {
        if now.saturating_sub(session.last_activity) > timeout_ms {
            return Some(EndReason::Timeout);
        }
        if now < session.last_activity {
            return Some(EndReason::ClockChanged);
        }
        match self.config.max_duration_ms() {
            Some(max) if now.saturating_sub(session.started_at) > max => {
                Some(EndReason::MaxDuration)
            }
            _ => None,
        }
    }

    /// Rules 2–4 as they apply now: not while paused, not in manual mode.
    fn automatic_expiry(&self, now: i64) -> Option<EndReason> {
        let session = self.state.session.as_ref()?;
        if !self.config.automatic || self.paused {
            return None;
        }
        self.expiry(session, now, self.timeout_for(self.state.in_background))
    }

    fn reason_to_renew(&self, now: i64) -> Option<EndReason> {
        self.state.session.as_ref()?;
        self.automatic_expiry(now)
            .or_else(|| (self.state.user_id != self.store_user).then_some(EndReason::UserChanged))
    }

    /// A namespace's index and previous id belong to the user they were counted for.
    fn adopt_store_user(&mut self) {
        if self.state.user_id != self.store_user && self.state.session.is_none() {
            self.state.user_id = self.store_user;
            self.state.session_index = 0;
            self.state.last_session_id = None;
        }
    }

    // ----- starting and ending ------------------------------------------------------------

    /// Starts a session with the next index.
    fn start(&mut self, now: i64) {
        let id = self.ids.next_id();
        self.state.session_index = bump(self.state.session_index);
        self.state.session = Some(Session {
            id,
            previous_id: self.state.last_session_id,
            event_index: 0,
            first_event: None,
            started_at: now,
            last_activity: now,
            background_index: 0,
            foreground_index: 0,
        });
        self.state.last_session_id = Some(id);
    }

    /// Starts a session with no event yet and reports it.
    fn start_empty(&mut self, now: i64, notices: &mut Vec<Notice>) {
        self.start(now);
        self.announce(true, notices);
    }

    fn end(&mut self, reason: EndReason, notices: &mut Vec<Notice>) {
        // As the session's entities showed it: the user it was counted for, which differs
        // from the store's when another namespace reset the user (behaviour §6).
        let shown_user = self.shown_session_user_id();
        let Some(session) = self.state.session.take() else {
            return;
        };
        let duration_ms = session
            .first_event
            .map_or(0, |first| (session.last_activity - first.counted_at).max(0));
        notices.push(Notice::Ended(EndSummary {
            session_id: session.id,
            session_index: self.state.session_index,
            user_id: shown_user,
            first_event_timestamp: session.first_event.map(|f| IsoTime(f.timestamp)),
            last_activity: IsoTime(session.last_activity),
            event_count: session.event_index,
            duration_ms,
            reason,
        }));
    }

    // ----- host controls (§7) -------------------------------------------------------------

    /// `new_session` and `begin_session`: the old session ends, a new one exists now.
    pub fn new_session(&mut self, now: i64, notices: &mut Vec<Notice>) {
        self.end(EndReason::NewSession, notices);
        self.adopt_store_user();
        self.start_empty(now, notices);
    }

    /// Ends the current session; `no_session` when there is none.
    pub fn end_session(&mut self, notices: &mut Vec<Notice>) -> Result<()> {
        if self.state.session.is_none() {
            return Err(Error::no_session());
        }
        self.end(EndReason::Manual, notices);
        Ok(())
    }

    /// Ends the session when the next event would renew it under rules 2–4.
    pub fn check(&mut self, now: i64, notices: &mut Vec<Notice>) {
        if let Some(reason) = self.automatic_expiry(now) {
            self.end(reason, notices);
        }
    }

    pub fn pause(&mut self) {
        self.paused = true;
    }

    pub fn resume(&mut self) {
        self.paused = false;
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Anonymous mode on or off; a change ends the session and starts a new one at once
    /// (in manual mode only in place of a running one).
    pub fn set_anonymous(&mut self, now: i64, anonymous: bool, notices: &mut Vec<Notice>) {
        if self.state.anonymous == anonymous {
            return;
        }
        let had_session = self.state.session.is_some();
        self.end(EndReason::AnonymityChanged, notices);
        self.state.anonymous = anonymous;
        self.adopt_store_user();
        if self.config.automatic || had_session {
            self.start_empty(now, notices);
        }
    }

    /// A new user for the whole store; the session ends and none starts. Returns the new id,
    /// which the store must keep.
    pub fn reset_user(&mut self, notices: &mut Vec<Notice>) -> Uuid {
        self.end(EndReason::UserChanged, notices);
        self.store_user = self.ids.next_id();
        self.user_dirty = true;
        self.adopt_store_user();
        self.store_user
    }

    /// Another handle on the same store changed its user: this namespace's session belongs
    /// to the old one and ends at its next event.
    pub fn observe_store_user(&mut self, user_id: Uuid) {
        self.store_user = user_id;
    }

    // ----- getters ------------------------------------------------------------------------

    /// The user id as entities show it (nil in anonymous mode).
    pub fn shown_user_id(&self) -> Uuid {
        if self.state.anonymous {
            ANONYMOUS_USER_ID
        } else {
            self.store_user
        }
    }

    /// The user id as the current (or latest) session's entities show it: the user the
    /// namespace's session was counted for (nil in anonymous mode).
    fn shown_session_user_id(&self) -> Uuid {
        if self.state.anonymous {
            ANONYMOUS_USER_ID
        } else {
            self.state.user_id
        }
    }

    pub fn in_background(&self) -> bool {
        self.state.in_background
    }

    pub fn session(&self) -> Option<&Session> {
        self.state.session.as_ref()
    }

    /// The current session's entity, as the next event in it would see it before counting.
    pub fn entity(&self) -> Option<SessionEntity> {
        let session = self.state.session.as_ref()?;
        Some(SessionEntity {
            user_id: self.shown_session_user_id(),
            session_id: session.id,
            session_index: self.state.session_index,
            event_index: session.event_index,
            previous_session_id: self.shown_previous_id(session),
            storage_mechanism: self.storage,
            first_event_id: session.first_event.map(|f| f.id),
            first_event_timestamp: session.first_event.map(|f| IsoTime(f.timestamp)),
        })
    }

    pub fn entity_json(&self) -> Option<String> {
        self.entity().map(|e| e.to_json())
    }

    /// The entity JSON from the session's template, made anew only when something but the
    /// event index changed: the per-event path.
    fn render_entity(&mut self) -> Option<String> {
        let event_index = self.refresh_template()?;
        self.template.as_ref().map(|t| t.render(event_index))
    }

    /// Makes the template fit the current session; returns its event index.
    fn refresh_template(&mut self) -> Option<u32> {
        let entity = self.entity()?;
        match &self.template {
            Some(template) if template.fits(&entity) => {}
            _ => self.template = Some(EntityTemplate::new(&entity)),
        }
        Some(entity.event_index)
    }

    /// `previousSessionId` as shown: hidden in anonymous mode.
    pub fn shown_previous_id(&self, session: &Session) -> Option<Uuid> {
        if self.state.anonymous {
            None
        } else {
            session.previous_id
        }
    }

    pub fn session_index(&self) -> Option<u32> {
        self.state
            .session
            .as_ref()
            .map(|_| self.state.session_index)
    }

    // ----- persistence --------------------------------------------------------------------

    /// The store's user id as this engine knows it.
    pub fn store_user(&self) -> Uuid {
        self.store_user
    }

    /// The store's user id is new (made at open) and the store has not been told yet.
    pub fn mark_user_changed(&mut self) {
        self.user_dirty = true;
    }

    /// Whether the store has a user id change to hear.
    pub fn user_changed(&self) -> bool {
        self.user_dirty
    }

    /// The new store user id, when `reset_user` made one since the last call.
    pub fn take_user_change(&mut self) -> Option<Uuid> {
        std::mem::take(&mut self.user_dirty).then_some(self.store_user)
    }

    pub fn state(&self) -> &NamespaceState {
        &self.state
    }
}

fn bump(index: u32) -> u32 {
    (index + 1).min(MAX_INDEX)
}

#[cfg(test)]
mod tests;

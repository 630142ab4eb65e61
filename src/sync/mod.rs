//! The write path: how a handle's changes reach its store and the other handles.
//!
//! - [`shared`]: the SQLite store. Every handle and process on one file and namespace share
//!   one live state through the [`coord`] file; an event in a running session changes two
//!   words of it with atomics, anything else happens under the namespace's writer lock,
//!   written to SQLite and to the coordination record before the call returns.
//! - [`private`]: memory and custom stores, one writer per handle: what the engine changed
//!   is written in the order it was changed, and a call returns only when the write that
//!   covers its entity is done.
//!
//! The engine knows none of this: it is handed a state and changes it.

#[cfg(feature = "sqlite")]
pub mod coord;
pub mod private;
pub mod protocol;
#[cfg(feature = "sqlite")]
pub mod shared;

use crate::engine::state::NamespaceState;

/// What an operation did to the namespace's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing.
    None,
    /// One event counted in the running session, which already had its first event: the
    /// event index went up by one, last activity maybe moved; nothing else.
    Counted,
    /// Anything else: a session started or ended, a transition, a first event, a user or
    /// anonymity change.
    Structural,
}

/// Compares the state before and after an operation.
pub fn change(before: &NamespaceState, after: &NamespaceState) -> Change {
    // The per-event case first: a counted event moves the session's counters, and then
    // only the rest needs comparing, once.
    if let (Some(old), Some(new)) = (&before.session, &after.session) {
        if new.event_index != old.event_index || new.last_activity != old.last_activity {
            let counted = old.first_event.is_some()
                && new.event_index == old.event_index.wrapping_add(1)
                && new.id == old.id
                && new.first_event == old.first_event
                && new.previous_id == old.previous_id
                && new.started_at == old.started_at
                && new.background_index == old.background_index
                && new.foreground_index == old.foreground_index
                && before.user_id == after.user_id
                && before.session_index == after.session_index
                && before.last_session_id == after.last_session_id
                && before.in_background == after.in_background
                && before.anonymous == after.anonymous;
            return if counted {
                Change::Counted
            } else {
                Change::Structural
            };
        }
    }
    if before == after {
        Change::None
    } else {
        Change::Structural
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::state::{FirstEvent, Session};
    use uuid::Uuid;

    fn running(event_index: u32, first_event: bool) -> NamespaceState {
        let mut state = NamespaceState::fresh(Uuid::from_u128(1), false, false);
        state.session_index = 3;
        state.session = Some(Session {
            id: Uuid::from_u128(2),
            previous_id: Some(Uuid::from_u128(3)),
            event_index,
            first_event: first_event.then_some(FirstEvent {
                id: Uuid::from_u128(4),
                timestamp: 5,
                counted_at: 5,
            }),
            started_at: 5,
            last_activity: 5 + i64::from(event_index),
            background_index: 0,
            foreground_index: 0,
        });
        state
    }

    #[test]
    fn one_more_event_in_the_same_session_is_counted() {
        assert_eq!(
            change(&running(7, true), &running(8, true)),
            Change::Counted
        );
        let mut paused = running(8, true);
        paused.session.as_mut().unwrap().last_activity = 12;
        assert_eq!(change(&running(7, true), &paused), Change::Counted);
    }

    #[test]
    fn nothing_changed_is_none() {
        assert_eq!(change(&running(7, true), &running(7, true)), Change::None);
        let idle = NamespaceState::fresh(Uuid::from_u128(1), false, false);
        assert_eq!(change(&idle, &idle.clone()), Change::None);
    }

    #[test]
    fn anything_beside_the_counters_is_structural() {
        // The session's first event.
        assert_eq!(
            change(&running(0, false), &running(1, true)),
            Change::Structural
        );
        // Two indexes at once, or one back.
        assert_eq!(
            change(&running(7, true), &running(9, true)),
            Change::Structural
        );
        assert_eq!(
            change(&running(7, true), &running(6, true)),
            Change::Structural
        );
        // Activity alone.
        let mut moved = running(7, true);
        moved.session.as_mut().unwrap().last_activity += 1;
        assert_eq!(change(&running(7, true), &moved), Change::Structural);
        // An event counted along with a transition, an anonymity change, a new session.
        let mut background = running(8, true);
        background.in_background = true;
        assert_eq!(change(&running(7, true), &background), Change::Structural);
        let mut anonymous = running(8, true);
        anonymous.anonymous = true;
        assert_eq!(change(&running(7, true), &anonymous), Change::Structural);
        let mut other = running(8, true);
        other.session.as_mut().unwrap().id = Uuid::from_u128(9);
        assert_eq!(change(&running(7, true), &other), Change::Structural);
        // A session started or ended.
        let idle = NamespaceState::fresh(Uuid::from_u128(1), false, false);
        assert_eq!(change(&idle, &running(1, true)), Change::Structural);
        assert_eq!(change(&running(7, true), &idle), Change::Structural);
    }
}

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
    if before == after {
        return Change::None;
    }
    let (Some(old), Some(new)) = (&before.session, &after.session) else {
        return Change::Structural;
    };
    let counted = old.first_event.is_some()
        && new.event_index == old.event_index + 1
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
    if counted {
        Change::Counted
    } else {
        Change::Structural
    }
}

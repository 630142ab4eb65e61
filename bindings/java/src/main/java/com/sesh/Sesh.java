package com.sesh;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An open sesh namespace: decides which session each event belongs to and hands back the
 * Snowplow {@code client_session} entity JSON. Thread-safe: any number of threads may use one
 * {@code Sesh} at once, and the callbacks may call it again.
 *
 * <pre>{@code
 * try (Sesh sesh = Sesh.open(SeshOptions.builder().namespace("app").build())) {
 *     String entity = sesh.track();          // attach to the event you send
 * }
 * }</pre>
 *
 * <p>Failures throw {@link SeshException} (unchecked) with the library's status. Close the
 * handle when done ({@link #close()} writes what is pending and frees the native side); there
 * is no finalizer. Every call after {@code close()} throws {@link SeshStatus#CLOSED}.
 */
public final class Sesh implements AutoCloseable {
    /** What the index getters return when there is no current session. */
    public static final long NO_SESSION = -1;

    private final long handle;
    // One reference for the owner (dropped by close()) and one per call in progress: the
    // native handle is freed when the last one goes, so close() from one thread (or from a
    // callback) never frees it under another thread's call.
    private final AtomicInteger refs = new AtomicInteger(1);
    private final AtomicBoolean closed = new AtomicBoolean();

    private Sesh(long handle) {
        this.handle = handle;
    }

    /**
     * Opens the namespace and store the options name: reads the persisted user and session
     * and ends a persisted session that will not go on (the session listener hears of it
     * before this returns). Unreadable persisted state does not fail: sesh starts clean and
     * {@link #getLastFault()} says {@link SeshStatus#CORRUPT_STATE}.
     *
     * @throws SeshException an option the library rejects ({@code invalid_argument},
     *     {@code invalid_utf8}), a store it cannot open ({@code store_error}), a bad clock
     *     ({@code callback_error})
     */
    public static Sesh open(SeshOptions options) {
        if (options == null) {
            throw new NullPointerException("options");
        }
        long handle = SeshNative.open(options.namespace, options.foregroundTimeoutSeconds,
                options.backgroundTimeoutSeconds, options.maxDurationSeconds,
                options.continueOnRestart, options.anonymous, options.automatic,
                options.startInBackground, options.storeKind, options.sqlitePath,
                options.customStore, options.storageMechanism.code, options.clock,
                options.sessionListener, options.logListener);
        return new Sesh(handle);
    }

    /** The library's version, e.g. "0.1.0". */
    public static String version() {
        return SeshNative.version();
    }

    // ----- events --------------------------------------------------------------------------

    /** Tracks an event now, with a generated id. See {@link #trackAt}. */
    public String track() {
        return track(null);
    }

    /** Tracks the event {@code eventId} (a UUID, any case; null for a generated one) now. */
    public String track(String eventId) {
        long h = acquire();
        try {
            return SeshNative.track(h, eventId, false, 0);
        } finally {
            release();
        }
    }

    /**
     * Tracks the event {@code eventId} (null for a generated id) whose own timestamp is
     * {@code timestampMs}: it becomes {@code firstEventTimestamp} when the event is its
     * session's first; the session rules use the clock.
     *
     * @return the event's {@code client_session} entity JSON, or null in manual mode outside
     *     a session (status {@code no_session}: nothing was counted)
     * @throws SeshException {@code invalid_argument} (not a UUID, timestamp outside 0..year
     *     9999), {@code invalid_utf8}, {@code closed}, {@code callback_error} (the clock)
     */
    public String trackAt(String eventId, long timestampMs) {
        long h = acquire();
        try {
            return SeshNative.track(h, eventId, true, timestampMs);
        } finally {
            release();
        }
    }

    /**
     * The app moves to background: an {@code application_background} event, checked with the
     * foreground timeout. Returns null when the app already is in background (nothing
     * happens); in manual mode outside a session the state still flips and the result has a
     * null entity.
     */
    public Lifecycle background() {
        return lifecycle(true, null);
    }

    /** As {@link #background()}, with the lifecycle event's own id (a UUID). */
    public Lifecycle background(String eventId) {
        return lifecycle(true, eventId);
    }

    /** The app moves to foreground: as {@link #background()}, checked with the background timeout. */
    public Lifecycle foreground() {
        return lifecycle(false, null);
    }

    /** As {@link #foreground()}, with the lifecycle event's own id (a UUID). */
    public Lifecycle foreground(String eventId) {
        return lifecycle(false, eventId);
    }

    private Lifecycle lifecycle(boolean background, String eventId) {
        long h = acquire();
        try {
            String[] result = SeshNative.lifecycle(h, background, eventId);
            return result == null ? null : new Lifecycle(result[0], result[1]);
        } finally {
            release();
        }
    }

    // ----- controls ------------------------------------------------------------------------

    /** Ends the current session (reason new_session) and starts a new one at once. */
    public void newSession() {
        control(SeshNative.NEW_SESSION, false);
    }

    /** Starts a session in manual mode (ending a running one first); in automatic mode as {@link #newSession()}. */
    public void beginSession() {
        control(SeshNative.BEGIN_SESSION, false);
    }

    /** Ends the current session now (reason manual). False when there was none (nothing changed). */
    public boolean endSession() {
        return control(SeshNative.END_SESSION, false);
    }

    /** Ends the session exactly when the next event would renew it by timeout, clock or maximum duration. Call it from a timer. */
    public void check() {
        control(SeshNative.CHECK, false);
    }

    /** Suspends timeouts and freezes last activity; events still count. Idempotent. */
    public void pause() {
        control(SeshNative.PAUSE, false);
    }

    /** Ends a pause. Idempotent. */
    public void resume() {
        control(SeshNative.RESUME, false);
    }

    /** Anonymous mode on or off; a change ends the session and starts a new one. */
    public void setAnonymous(boolean anonymous) {
        control(SeshNative.SET_ANONYMOUS, anonymous);
    }

    /** Gives the store a new user id; the session ends (user_changed) and none starts. */
    public void resetUser() {
        control(SeshNative.RESET_USER, false);
    }

    private boolean control(int op, boolean argument) {
        long h = acquire();
        try {
            return SeshNative.control(h, op, argument);
        } finally {
            release();
        }
    }

    // ----- getters: what an entity would show (anonymous mode hides the user) ----------------

    /** The installation's user id (the nil UUID in anonymous mode); always known. */
    public String getUserId() {
        return getString(SeshNative.USER_ID);
    }

    /** The current session's id, or null when there is no session. */
    public String getSessionId() {
        return getString(SeshNative.SESSION_ID);
    }

    /** The previous session's id, or null (none, no session, or anonymous mode). */
    public String getPreviousSessionId() {
        return getString(SeshNative.PREVIOUS_SESSION_ID);
    }

    /** The current session's first event id, or null (no session, or no event yet). */
    public String getFirstEventId() {
        return getString(SeshNative.FIRST_EVENT_ID);
    }

    /** The current session's first event timestamp as the entity writes it, or null. */
    public String getFirstEventTimestamp() {
        return getString(SeshNative.FIRST_EVENT_TIMESTAMP);
    }

    /** The current session's whole entity JSON as the last event saw it, or null when there is no session. */
    public String getEntity() {
        return getString(SeshNative.ENTITY);
    }

    /** The current session's index, or {@link #NO_SESSION}. */
    public long getSessionIndex() {
        return getLong(SeshNative.SESSION_INDEX);
    }

    /** The index of the session's latest event (0 before its first), or {@link #NO_SESSION}. */
    public long getEventIndex() {
        return getLong(SeshNative.EVENT_INDEX);
    }

    /** Background transitions in the current session, or {@link #NO_SESSION}. */
    public long getBackgroundIndex() {
        return getLong(SeshNative.BACKGROUND_INDEX);
    }

    /** Foreground transitions in the current session, or {@link #NO_SESSION}. */
    public long getForegroundIndex() {
        return getLong(SeshNative.FOREGROUND_INDEX);
    }

    /** Whether the app is in background; always known. */
    public boolean isInBackground() {
        return getLong(SeshNative.IN_BACKGROUND) != 0;
    }

    /** The last fault the handle met on its own (corrupt state, failing store, bad clock), or OK. */
    public SeshStatus getLastFault() {
        return SeshStatus.fromCode((int) getLong(SeshNative.LAST_FAULT));
    }

    /** The message of the last call on this handle that failed, or null. */
    public String getLastError() {
        return getString(SeshNative.LAST_ERROR);
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        return closed.get();
    }

    private String getString(int which) {
        long h = acquire();
        try {
            return SeshNative.getString(h, which);
        } finally {
            release();
        }
    }

    private long getLong(int which) {
        long h = acquire();
        try {
            return SeshNative.getLong(h, which);
        } finally {
            release();
        }
    }

    // ----- closing -------------------------------------------------------------------------

    /**
     * Writes what is pending to the store and closes the handle; the session is not ended (it
     * goes on at the next open if the rules allow). The native handle, and a custom store's
     * reference, are released as soon as no other thread's call is using them. Idempotent: a
     * second close does nothing.
     *
     * @throws SeshException {@code store_error} when the final write failed (the handle is
     *     closed all the same)
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        try {
            SeshNative.close(handle);
        } finally {
            release();
        }
    }

    private long acquire() {
        for (;;) {
            int n = refs.get();
            if (n == 0) {
                throw closedException();
            }
            if (refs.compareAndSet(n, n + 1)) {
                return handle;
            }
        }
    }

    private void release() {
        if (refs.decrementAndGet() == 0) {
            SeshNative.free(handle);
        }
    }

    private static SeshException closedException() {
        int code = SeshStatus.CLOSED.code();
        return new SeshException(code, SeshNative.statusName(code), SeshNative.statusMessage(code));
    }
}

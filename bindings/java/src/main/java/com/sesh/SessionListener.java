package com.sesh;

/**
 * Told when sessions start and end. Both methods run on the thread whose sesh call caused
 * them, after sesh released its lock: they may call the {@link Sesh} again (even close it).
 * The end of a session is reported before the start of the next. An exception thrown here is
 * caught, logged (to the {@link LogListener}, else stderr / logcat) and dropped: the sesh call
 * that caused it still succeeds.
 */
public interface SessionListener {
    /**
     * A session started. {@code entityJson} is the {@code client_session} entity as it stands
     * right after the start (eventIndex 1 when an event started it, 0 when a control did).
     */
    default void onSessionStart(String entityJson) {}

    /**
     * A session ended. {@code summaryJson} holds sessionId, sessionIndex, userId,
     * firstEventTimestamp, lastActivity, eventCount, durationMs and reason (behaviour §6 in
     * docs/behaviour.md).
     */
    default void onSessionEnd(String summaryJson) {}
}

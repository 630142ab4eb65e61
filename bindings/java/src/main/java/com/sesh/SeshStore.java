package com.sesh;

/**
 * A store written in Java or Kotlin (SharedPreferences, DataStore, a file, ...), given to
 * {@link SeshOptions.Builder#customStore(SeshStore)}.
 *
 * <p>Keys are text: {@code sesh.user_id} holds the installation's user id (shared by every
 * namespace), {@code sesh.state.<namespace>} a namespace's state. Values are text to keep
 * exactly as given. sesh only reads and overwrites records; it never deletes one.
 *
 * <p>Calls come from any thread that calls sesh, one at a time for each open {@link Sesh}
 * (several handles on one store may call at once), with no sesh lock held. A failure never
 * stops tracking: sesh keeps the session in memory, reports the fault to the
 * {@link LogListener} and as the handle's last fault, and writes again later. An exception
 * thrown here counts as a failure ({@link SeshStatus#STORE_ERROR}) and is logged.
 */
public interface SeshStore {
    /** The value kept under {@code key}, or null when there is none. */
    String get(String key);

    /** Keeps {@code value} under {@code key}, replacing what was there; false on failure. */
    boolean set(String key, String value);

    /**
     * Called exactly once for every {@link Sesh#open} given this store, when sesh no longer
     * uses it: when that handle is closed (after its last write), or before {@code open}
     * throws. The binding drops its reference to the store right after.
     */
    default void onRelease() {}
}

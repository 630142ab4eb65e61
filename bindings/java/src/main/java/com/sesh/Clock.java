package com.sesh;

/**
 * Where sesh reads "now" from, instead of its default clock (wall time at open, advanced by a
 * monotonic clock that counts device sleep). Tests inject one; apps rarely need to.
 *
 * <p>Called from any thread that calls sesh, possibly from several at once, with no sesh lock
 * held. A reading outside 0..253402300799999 (year 9999), or an exception thrown here, makes
 * the call that read it fail with {@link SeshStatus#CALLBACK_ERROR} (the exception is logged,
 * never propagated).
 */
public interface Clock {
    /** Milliseconds since the Unix epoch. */
    long nowMs();
}

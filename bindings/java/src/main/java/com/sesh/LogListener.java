package com.sesh;

/**
 * Receives sesh's faults and notes (the library never prints on its own), and the exceptions
 * the binding caught in callbacks, custom stores and clocks. Runs on the thread of the call
 * that logged, with no sesh lock held. An exception thrown here is dropped (printed to stderr,
 * or logcat on Android).
 */
public interface LogListener {
    int ERROR = 1;
    int WARN = 2;
    int INFO = 3;
    int DEBUG = 4;

    /** {@code level} is {@link #ERROR}, {@link #WARN}, {@link #INFO} or {@link #DEBUG}. */
    void onLog(int level, String message);
}

package com.sesh;

/** The JNI glue's entry points (bindings/java/jni/sesh_jni.c registers them at load). */
final class SeshNative {
    static {
        // Override: -Dsesh.jni.library=/absolute/path/libsesh_jni.so
        String explicit = System.getProperty("sesh.jni.library");
        if (explicit != null && !explicit.isEmpty()) {
            System.load(explicit);
        } else {
            // When libsesh_jni.so was linked against libsesh.so (see bindings/java/README.md),
            // load the engine first: Android before 6.0 does not resolve a library's
            // dependencies from the app's own directory. When it was linked statically (the
            // default) there is no libsesh.so to load, and that is fine.
            try {
                System.loadLibrary("sesh");
            } catch (UnsatisfiedLinkError ignored) {
                // statically linked
            }
            System.loadLibrary("sesh_jni");
        }
    }

    private SeshNative() {}

    // Controls (control()).
    static final int NEW_SESSION = 0;
    static final int BEGIN_SESSION = 1;
    static final int END_SESSION = 2;
    static final int CHECK = 3;
    static final int PAUSE = 4;
    static final int RESUME = 5;
    static final int SET_ANONYMOUS = 6;
    static final int RESET_USER = 7;

    // Text getters (getString()).
    static final int USER_ID = 0;
    static final int SESSION_ID = 1;
    static final int PREVIOUS_SESSION_ID = 2;
    static final int FIRST_EVENT_ID = 3;
    static final int FIRST_EVENT_TIMESTAMP = 4;
    static final int ENTITY = 5;
    static final int LAST_ERROR = 6;

    // Number getters (getLong()).
    static final int SESSION_INDEX = 0;
    static final int EVENT_INDEX = 1;
    static final int BACKGROUND_INDEX = 2;
    static final int FOREGROUND_INDEX = 3;
    static final int IN_BACKGROUND = 4;
    static final int LAST_FAULT = 5;

    static native long open(String namespace, long foregroundTimeout, long backgroundTimeout,
            long maxDuration, int continueOnRestart, int anonymous, int automatic,
            int startInBackground, int storeKind, String sqlitePath, SeshStore store,
            int storageMechanism, Clock clock, SessionListener sessionListener,
            LogListener logListener);

    static native void close(long handle);

    static native void free(long handle);

    static native String track(long handle, String eventId, boolean hasTimestamp, long timestampMs);

    static native String[] lifecycle(long handle, boolean background, String eventId);

    static native boolean control(long handle, int op, boolean argument);

    static native String getString(long handle, int which);

    static native long getLong(long handle, int which);

    static native String version();

    static native String statusName(int status);

    static native String statusMessage(int status);
}

package com.sesh;

/**
 * Natives that only libsesh_jni_testhooks.so (sesh_jni.c built with SESH_JNI_TEST_HOOKS)
 * registers; with the production library they throw UnsatisfiedLinkError.
 */
final class SeshTestHooks {
    private SeshTestHooks() {}

    /**
     * On a new pthread the JVM has never seen: sesh_session_new, then sesh_event_track; returns
     * the entity. Every callback on the way must attach that thread and detach it again.
     */
    static native String trackOnNativeThread(long handle);
}

package com.sesh;

/**
 * What {@link Sesh#open} opens: immutable, reusable for any number of opens (each open hands a
 * fresh copy to the library). Made with {@link #builder()}. Anything left unset keeps the
 * library's default: namespace "default", foreground and background timeouts 1800 s, continue
 * on restart, not anonymous, automatic, no maximum duration, start in foreground, the memory
 * store, the system clock, no callbacks.
 *
 * <p>The builder checks nothing itself: the library does, at {@link Sesh#open}, which throws
 * {@link SeshException} ({@link SeshStatus#INVALID_ARGUMENT} for a timeout below 1 s, an empty
 * namespace, ...).
 */
public final class SeshOptions {
    static final long UNSET = Long.MIN_VALUE;
    static final int STORE_DEFAULT = 0;
    static final int STORE_MEMORY = 1;
    static final int STORE_SQLITE = 2;
    static final int STORE_CUSTOM = 3;

    final String namespace;
    final long foregroundTimeoutSeconds;
    final long backgroundTimeoutSeconds;
    final long maxDurationSeconds;
    final int continueOnRestart;
    final int anonymous;
    final int automatic;
    final int startInBackground;
    final int storeKind;
    final String sqlitePath;
    final SeshStore customStore;
    final StorageMechanism storageMechanism;
    final Clock clock;
    final SessionListener sessionListener;
    final LogListener logListener;

    private SeshOptions(Builder b) {
        namespace = b.namespace;
        foregroundTimeoutSeconds = b.foregroundTimeoutSeconds;
        backgroundTimeoutSeconds = b.backgroundTimeoutSeconds;
        maxDurationSeconds = b.maxDurationSeconds;
        continueOnRestart = b.continueOnRestart;
        anonymous = b.anonymous;
        automatic = b.automatic;
        startInBackground = b.startInBackground;
        storeKind = b.storeKind;
        sqlitePath = b.sqlitePath;
        customStore = b.customStore;
        storageMechanism = b.storageMechanism;
        clock = b.clock;
        sessionListener = b.sessionListener;
        logListener = b.logListener;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Builds {@link SeshOptions}. Not thread-safe; every setter returns the builder. */
    public static final class Builder {
        private String namespace;
        private long foregroundTimeoutSeconds = UNSET;
        private long backgroundTimeoutSeconds = UNSET;
        private long maxDurationSeconds = UNSET;
        private int continueOnRestart = -1;
        private int anonymous = -1;
        private int automatic = -1;
        private int startInBackground = -1;
        private int storeKind = STORE_DEFAULT;
        private String sqlitePath;
        private SeshStore customStore;
        private StorageMechanism storageMechanism = StorageMechanism.LOCAL_STORAGE;
        private Clock clock;
        private SessionListener sessionListener;
        private LogListener logListener;

        public Builder() {}

        /** One independent session sequence (one tracker) in the store; non-empty. */
        public Builder namespace(String namespace) {
            this.namespace = namespace;
            return this;
        }

        /** Foreground inactivity timeout, whole seconds ≥ 1 (default 1800). */
        public Builder foregroundTimeoutSeconds(long seconds) {
            this.foregroundTimeoutSeconds = seconds;
            return this;
        }

        /** Background inactivity timeout, whole seconds ≥ 1 (default 1800). */
        public Builder backgroundTimeoutSeconds(long seconds) {
            this.backgroundTimeoutSeconds = seconds;
            return this;
        }

        /** Longest a session may last from its start, seconds; 0 (default) for no maximum. */
        public Builder maxDurationSeconds(long seconds) {
            this.maxDurationSeconds = seconds;
            return this;
        }

        /** Whether a persisted session that has not timed out goes on after a restart (default true). */
        public Builder continueOnRestart(boolean enabled) {
            this.continueOnRestart = enabled ? 1 : 0;
            return this;
        }

        /** Open in anonymous mode (default false). */
        public Builder anonymous(boolean enabled) {
            this.anonymous = enabled ? 1 : 0;
            return this;
        }

        /** Sessions by the rules (true, default) or only by begin/end (false: manual mode). */
        public Builder automatic(boolean enabled) {
            this.automatic = enabled ? 1 : 0;
            return this;
        }

        /** Whether the app is in background right after open (default false). */
        public Builder startInBackground(boolean enabled) {
            this.startInBackground = enabled ? 1 : 0;
            return this;
        }

        /** Keep state in memory for as long as the handle lives (the default). */
        public Builder memoryStore() {
            this.storeKind = STORE_MEMORY;
            this.sqlitePath = null;
            this.customStore = null;
            return this;
        }

        /**
         * Keep state in the SQLite file at {@code path} (on Android, e.g.
         * {@code context.getNoBackupFilesDir() + "/sesh.db"}); created when missing.
         */
        public Builder sqliteStore(String path) {
            this.storeKind = STORE_SQLITE;
            this.sqlitePath = path;
            this.customStore = null;
            return this;
        }

        /** Keep state in a store written in Java; {@code storageMechanism} LOCAL_STORAGE. */
        public Builder customStore(SeshStore store) {
            return customStore(store, StorageMechanism.LOCAL_STORAGE);
        }

        /** Keep state in a store written in Java, declaring the entity's storageMechanism. */
        public Builder customStore(SeshStore store, StorageMechanism storageMechanism) {
            if (store == null || storageMechanism == null) {
                throw new NullPointerException("store and storageMechanism must not be null");
            }
            this.storeKind = STORE_CUSTOM;
            this.customStore = store;
            this.storageMechanism = storageMechanism;
            this.sqlitePath = null;
            return this;
        }

        /** Read "now" from this clock instead of the default one; null restores the default. */
        public Builder clock(Clock clock) {
            this.clock = clock;
            return this;
        }

        /** Told of session starts and ends; null for none. */
        public Builder sessionListener(SessionListener listener) {
            this.sessionListener = listener;
            return this;
        }

        /** Receives faults and notes; null for none. */
        public Builder logListener(LogListener listener) {
            this.logListener = listener;
            return this;
        }

        public SeshOptions build() {
            return new SeshOptions(this);
        }
    }
}

package com.sesh;

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Java binding end to end: java -ea -Xcheck:jni -Djava.library.path=<dir of
 * libsesh_jni.so> -cp classes com.sesh.SeshTest. No JUnit: every test is a method run by
 * main, which prints each failure and exits 1 if there was any.
 */
public final class SeshTest {
    /** 2023-11-14T22:13:20.000Z: an ordinary "now". */
    static final long T0 = 1_700_000_000_000L;
    static final String T0_ISO = "2023-11-14T22:13:20.000Z";
    static final String NIL = "00000000-0000-0000-0000-000000000000";
    static final Pattern UUID4 =
            Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");

    private static int failures;
    private static int checks;

    public static void main(String[] args) throws Exception {
        boolean assertionsOn = false;
        assert assertionsOn = true; // run with -ea
        if (!assertionsOn) {
            System.err.println("SeshTest: run with -ea");
            System.exit(2);
        }
        String[] tests = {
            "version", "seedTimeline", "sessionCallbacks", "customStoreAcrossReopen",
            "customStoreFailures", "unicodeNamespace", "sqliteStore", "exceptions",
            "closedHandle", "callbackExceptions", "reentrantCallbacks", "closeFromCallback",
            "manualMode", "controls", "threads", "closeWhileThreadsTrack", "manyCallbacks",
            "nativeThreadCallbacks",
        };
        for (String name : tests) {
            int before = failures;
            try {
                SeshTest.class.getDeclaredMethod(name).invoke(null);
            } catch (java.lang.reflect.InvocationTargetException e) {
                failures++;
                System.err.println("FAIL " + name + ": threw");
                e.getCause().printStackTrace();
            }
            System.out.println((failures == before ? "ok   " : "FAIL ") + name);
        }
        System.out.println(checks + " checks, " + failures + " failures");
        System.exit(failures == 0 ? 0 : 1);
    }

    // ----- helpers ------------------------------------------------------------------------

    static void check(boolean condition, String what) {
        checks++;
        if (!condition) {
            failures++;
            AssertionError e = new AssertionError(what);
            System.err.println("FAIL: " + what + " at " + e.getStackTrace()[1]);
        }
    }

    static void checkEq(Object expected, Object actual, String what) {
        check(expected == null ? actual == null : expected.equals(actual),
                what + ": expected <" + expected + "> got <" + actual + ">");
    }

    /** The string value of "key" in sesh's flat JSON, null for a JSON null. */
    static String str(String json, String key) {
        Matcher m = Pattern.compile("\"" + key + "\":(null|\"([^\"]*)\")").matcher(json);
        if (!m.find()) {
            throw new AssertionError("no \"" + key + "\" in " + json);
        }
        return m.group(2);
    }

    static long num(String json, String key) {
        Matcher m = Pattern.compile("\"" + key + "\":(-?[0-9]+)").matcher(json);
        if (!m.find()) {
            throw new AssertionError("no number \"" + key + "\" in " + json);
        }
        return Long.parseLong(m.group(1));
    }

    interface Body {
        void run() throws Exception;
    }

    /** Runs body, which must throw SeshException with this status; returns it. */
    static SeshException expectThrows(SeshStatus status, String what, Body body) {
        try {
            body.run();
        } catch (SeshException e) {
            checkEq(status, e.getStatus(), what + " status");
            checkEq(status.code(), e.getCode(), what + " code");
            checkEq(status.statusName(), e.getStatusName(), what + " name");
            check(e.getDetail() != null && !e.getDetail().isEmpty(), what + " has a message");
            check(e.getMessage().startsWith(status.statusName() + ": "), what + " message: " + e.getMessage());
            return e;
        } catch (Exception e) {
            check(false, what + ": threw " + e + " instead of SeshException(" + status + ")");
            return null;
        }
        check(false, what + ": did not throw");
        return null;
    }

    /** Records session callbacks, in order. */
    static final class Recorder implements SessionListener {
        final List<String> starts = new CopyOnWriteArrayList<>();
        final List<String> ends = new CopyOnWriteArrayList<>();
        final List<String> order = new CopyOnWriteArrayList<>();

        @Override
        public void onSessionStart(String entityJson) {
            starts.add(entityJson);
            order.add("start " + str(entityJson, "sessionId"));
        }

        @Override
        public void onSessionEnd(String summaryJson) {
            ends.add(summaryJson);
            order.add("end " + str(summaryJson, "sessionId"));
        }
    }

    /** Records log messages. */
    static final class Log implements LogListener {
        final List<String> messages = new CopyOnWriteArrayList<>();

        @Override
        public void onLog(int level, String message) {
            messages.add(level + " " + message);
        }

        boolean contains(String text) {
            for (String m : messages) {
                if (m.contains(text)) {
                    return true;
                }
            }
            return false;
        }
    }

    /** A store in a map, counting what sesh did with it. */
    static class MapStore implements SeshStore {
        final Map<String, String> map = new ConcurrentHashMap<>();
        final AtomicInteger gets = new AtomicInteger();
        final AtomicInteger sets = new AtomicInteger();
        final AtomicInteger releases = new AtomicInteger();

        @Override
        public String get(String key) {
            gets.incrementAndGet();
            return map.get(key);
        }

        @Override
        public boolean set(String key, String value) {
            sets.incrementAndGet();
            map.put(key, value);
            return true;
        }

        @Override
        public void onRelease() {
            releases.incrementAndGet();
        }
    }

    static SeshOptions.Builder clocked(AtomicLong now) {
        return SeshOptions.builder().clock(now::get);
    }

    // ----- tests --------------------------------------------------------------------------

    static void version() {
        String v = Sesh.version();
        check(v != null && v.matches("[0-9]+\\.[0-9]+\\.[0-9]+.*"), "version: " + v);
    }

    /** The seed example of behaviour §4 on an injected Java clock (fg 360 s, bg 15 s). */
    static void seedTimeline() {
        AtomicLong now = new AtomicLong(T0);
        Recorder rec = new Recorder();
        try (Sesh sesh = Sesh.open(clocked(now).namespace("seed").foregroundTimeoutSeconds(360)
                .backgroundTimeoutSeconds(15).sessionListener(rec).build())) {
            checkEq(null, sesh.getSessionId(), "no session before the first event");
            checkEq(Sesh.NO_SESSION, sesh.getSessionIndex(), "no session index yet");
            check(UUID4.matcher(sesh.getUserId()).matches(), "user id is known at once");

            String e1 = sesh.track("6F9619FF-8B86-4011-B42D-00C04FC964FF");
            String s1 = str(e1, "sessionId");
            check(e1.startsWith("{\"schema\":\"iglu:com.snowplowanalytics.snowplow/client_session/jsonschema/1-0-2\""),
                    "entity schema: " + e1);
            check(UUID4.matcher(s1).matches(), "session id is a UUIDv4");
            checkEq(1L, num(e1, "sessionIndex"), "t=0 sessionIndex");
            checkEq(1L, num(e1, "eventIndex"), "t=0 eventIndex");
            checkEq(null, str(e1, "previousSessionId"), "t=0 previousSessionId");
            checkEq("6f9619ff-8b86-4011-b42d-00c04fc964ff", str(e1, "firstEventId"), "event id kept lower-case");
            checkEq(T0_ISO, str(e1, "firstEventTimestamp"), "first event timestamp");
            checkEq("LOCAL_STORAGE", str(e1, "storageMechanism"), "memory store");

            now.set(T0 + 3_000);
            Lifecycle bg = sesh.background();
            check(bg != null, "background returns the transition");
            checkEq(s1, str(bg.getEntityJson(), "sessionId"), "t=3 s: still session 1");
            checkEq(2L, num(bg.getEntityJson(), "eventIndex"), "t=3 s: eventIndex");
            check(bg.getEventJson().contains("application_background"), "background event schema");
            checkEq(1L, num(bg.getEventJson(), "backgroundIndex"), "backgroundIndex");
            check(sesh.isInBackground(), "in background");
            checkEq(null, sesh.background(), "background again does nothing");

            now.set(T0 + 30_000);
            Lifecycle fg = sesh.foreground();
            String s2 = str(fg.getEntityJson(), "sessionId");
            check(!s2.equals(s1), "t=30 s: a new session");
            checkEq(s1, str(fg.getEntityJson(), "previousSessionId"), "previousSessionId = session 1");
            checkEq(2L, num(fg.getEntityJson(), "sessionIndex"), "sessionIndex 2");
            checkEq(1L, num(fg.getEntityJson(), "eventIndex"), "the foreground event opens session 2");
            checkEq(1L, num(fg.getEventJson(), "foregroundIndex"), "foregroundIndex");
            check(fg.getEventJson().contains("application_foreground"), "foreground event schema");
            check(!sesh.isInBackground(), "in foreground");

            checkEq(s2, sesh.getSessionId(), "getSessionId");
            checkEq(s1, sesh.getPreviousSessionId(), "getPreviousSessionId");
            checkEq(2L, sesh.getSessionIndex(), "getSessionIndex");
            checkEq(1L, sesh.getEventIndex(), "getEventIndex");
            checkEq(1L, sesh.getForegroundIndex(), "getForegroundIndex");
            checkEq(0L, sesh.getBackgroundIndex(), "getBackgroundIndex");
            checkEq(fg.getEntityJson(), sesh.getEntity(), "getEntity");
            checkEq("2023-11-14T22:13:50.000Z", sesh.getFirstEventTimestamp(), "getFirstEventTimestamp");
            checkEq(SeshStatus.OK, sesh.getLastFault(), "no fault");

            checkEq(Arrays.asList("start " + s1, "end " + s1, "start " + s2), rec.order, "callback order");
            checkEq("timeout", str(rec.ends.get(0), "reason"), "session 1 ended by timeout");
            checkEq(2L, num(rec.ends.get(0), "eventCount"), "session 1 had 2 events");
            checkEq(3_000L, num(rec.ends.get(0), "durationMs"), "session 1 lasted 3 s");
        }
    }

    static void sessionCallbacks() {
        AtomicLong now = new AtomicLong(T0);
        Recorder rec = new Recorder();
        try (Sesh sesh = Sesh.open(clocked(now).sessionListener(rec).build())) {
            String e1 = sesh.track();
            checkEq(1, rec.starts.size(), "one start");
            checkEq(e1, rec.starts.get(0), "the start callback gets the event's entity");
            sesh.newSession();
            checkEq(1, rec.ends.size(), "newSession ends the session");
            checkEq("new_session", str(rec.ends.get(0), "reason"), "reason new_session");
            checkEq(2, rec.starts.size(), "newSession starts one");
            checkEq(0L, num(rec.starts.get(1), "eventIndex"), "started by a control: eventIndex 0");
            checkEq(null, str(rec.starts.get(1), "firstEventId"), "no first event yet");
            check(sesh.endSession(), "endSession ends it");
            checkEq("manual", str(rec.ends.get(1), "reason"), "reason manual");
            check(!sesh.endSession(), "endSession without a session says false");
            checkEq(2, rec.ends.size(), "and ends nothing");
        }
        // A listener implementing only one method (the other is a default).
        final List<String> ends = new CopyOnWriteArrayList<>();
        try (Sesh sesh = Sesh.open(clocked(now).sessionListener(new SessionListener() {
            @Override
            public void onSessionEnd(String summaryJson) {
                ends.add(summaryJson);
            }
        }).build())) {
            sesh.track();
            sesh.endSession();
            checkEq(1, ends.size(), "a one-method listener");
        }
    }

    /** A store written in Java: the session goes on across close and reopen. */
    static void customStoreAcrossReopen() {
        AtomicLong now = new AtomicLong(T0);
        MapStore store = new MapStore();
        SeshOptions options = clocked(now).namespace("app").customStore(store).build();

        Sesh first = Sesh.open(options);
        String e1 = first.track();
        first.track();
        checkEq(0, store.releases.get(), "store held while the handle is open");
        first.close();
        checkEq(1, store.releases.get(), "close releases the store once");
        check(UUID4.matcher(store.map.get("sesh.user_id")).matches(), "user id kept under sesh.user_id");
        check(store.map.get("sesh.state.app").startsWith("{"), "state kept under sesh.state.app");

        now.addAndGet(10_000);
        Sesh second = Sesh.open(options);
        String e3 = second.track();
        checkEq(str(e1, "sessionId"), str(e3, "sessionId"), "the session goes on after reopen");
        checkEq(3L, num(e3, "eventIndex"), "eventIndex continues");
        checkEq(str(e1, "userId"), str(e3, "userId"), "same user");
        checkEq("LOCAL_STORAGE", str(e3, "storageMechanism"), "default storageMechanism");
        second.close();
        second.close();
        checkEq(2, store.releases.get(), "one release per open, a second close adds none");

        // Two handles on one store object at once (two namespaces): one user.
        Sesh a = Sesh.open(clocked(now).namespace("a").customStore(store, StorageMechanism.SQLITE).build());
        Sesh b = Sesh.open(clocked(now).namespace("b").customStore(store).build());
        String ea = a.track();
        String eb = b.track();
        checkEq("SQLITE", str(ea, "storageMechanism"), "declared storageMechanism");
        checkEq(str(ea, "userId"), str(eb, "userId"), "namespaces share the user");
        a.close();
        b.close();
        checkEq(4, store.releases.get(), "both released");

        // A failed open releases the store too (exactly once).
        expectThrows(SeshStatus.INVALID_ARGUMENT, "timeout 0",
                () -> Sesh.open(clocked(now).customStore(store).foregroundTimeoutSeconds(0).build()));
        checkEq(5, store.releases.get(), "a failed open releases the store");
    }

    static void customStoreFailures() {
        AtomicLong now = new AtomicLong(T0);

        // get throws: open still works, tracking goes on in memory, the fault is logged.
        Log log = new Log();
        MapStore throwing = new MapStore() {
            @Override
            public String get(String key) {
                throw new IllegalStateException("disk on fire");
            }
        };
        try (Sesh sesh = Sesh.open(clocked(now).customStore(throwing).logListener(log).build())) {
            checkEq(SeshStatus.STORE_ERROR, sesh.getLastFault(), "a throwing get is store_error");
            check(sesh.track() != null, "tracking goes on");
            check(log.contains("SeshStore.get threw java.lang.IllegalStateException: disk on fire"),
                    "the exception is logged: " + log.messages);
        }
        checkEq(1, throwing.releases.get(), "released");

        // set fails (false, then an exception): tracking goes on, written again later.
        final AtomicInteger mode = new AtomicInteger(1);
        MapStore failingSet = new MapStore() {
            @Override
            public boolean set(String key, String value) {
                if (mode.get() == 1) {
                    return false;
                }
                if (mode.get() == 2) {
                    throw new RuntimeException("nope");
                }
                return super.set(key, value);
            }
        };
        Log log2 = new Log();
        try (Sesh sesh = Sesh.open(clocked(now).namespace("s").customStore(failingSet).logListener(log2).build())) {
            String e1 = sesh.track();
            check(e1 != null, "tracks while set fails");
            checkEq(SeshStatus.STORE_ERROR, sesh.getLastFault(), "a failing set is store_error");
            mode.set(2);
            now.addAndGet(2_000);
            check(sesh.track() != null, "tracks while set throws");
            check(log2.contains("SeshStore.set threw java.lang.RuntimeException: nope"), "logged: " + log2.messages);
            mode.set(0);
            now.addAndGet(2_000);
            sesh.track();
            check(failingSet.map.containsKey("sesh.state.s"), "written once the store works");
        }

        // Garbage state: corrupt_state, a clean start.
        MapStore garbage = new MapStore();
        garbage.map.put("sesh.state.g", "this is not JSON");
        try (Sesh sesh = Sesh.open(clocked(now).namespace("g").customStore(garbage).build())) {
            checkEq(SeshStatus.CORRUPT_STATE, sesh.getLastFault(), "garbage is corrupt_state");
            checkEq(1L, num(sesh.track(), "sessionIndex"), "starts clean");
        }
        // A value that is no text sesh could have written (an unpaired surrogate).
        MapStore surrogate = new MapStore();
        surrogate.map.put("sesh.state.u", "{\"x\":\"\uD800\"}");
        try (Sesh sesh = Sesh.open(clocked(now).namespace("u").customStore(surrogate).build())) {
            checkEq(SeshStatus.CORRUPT_STATE, sesh.getLastFault(), "unpaired surrogate is corrupt_state");
            check(sesh.track() != null, "and tracking goes on");
        }
    }

    /** Strings cross as real UTF-8: a namespace outside the BMP is the store key it should be. */
    static void unicodeNamespace() {
        AtomicLong now = new AtomicLong(T0);
        MapStore store = new MapStore();
        String ns = "caf\u00e9-\uD83D\uDE80-\u65e5\u672c";
        try (Sesh sesh = Sesh.open(clocked(now).namespace(ns).customStore(store).build())) {
            sesh.track();
        }
        check(store.map.containsKey("sesh.state." + ns), "key for a non-ASCII namespace: " + store.map.keySet());
        try (Sesh sesh = Sesh.open(clocked(now).namespace(ns).customStore(store).build())) {
            checkEq(2L, num(sesh.track(), "eventIndex"), "same namespace read back");
        }
        expectThrows(SeshStatus.INVALID_UTF8, "unpaired surrogate in the namespace",
                () -> Sesh.open(SeshOptions.builder().namespace("bad\uD800").build()));
        expectThrows(SeshStatus.INVALID_ARGUMENT, "NUL in the namespace",
                () -> Sesh.open(SeshOptions.builder().namespace("a\u0000b").build()));
    }

    static void sqliteStore() throws IOException {
        File dir = new File(System.getProperty("sesh.test.dir", System.getProperty("java.io.tmpdir")));
        File db = new File(dir, "sesh-java-test.db");
        for (String suffix : new String[] {"", "-wal", "-shm"}) {
            new File(db.getPath() + suffix).delete();
        }
        AtomicLong now = new AtomicLong(T0);
        SeshOptions options = clocked(now).sqliteStore(db.getPath()).build();
        String e1;
        try (Sesh sesh = Sesh.open(options)) {
            e1 = sesh.track();
            checkEq("SQLITE", str(e1, "storageMechanism"), "SQLite store");
        }
        now.addAndGet(5_000);
        try (Sesh sesh = Sesh.open(options)) {
            String e2 = sesh.track();
            checkEq(str(e1, "sessionId"), str(e2, "sessionId"), "SQLite: the session goes on");
            checkEq(2L, num(e2, "eventIndex"), "SQLite: eventIndex continues");
        }

        File notDb = new File(dir, "not-a-database.db");
        byte[] junk = "this is not an SQLite database, and sesh must leave it alone\n".getBytes(StandardCharsets.UTF_8);
        try (FileOutputStream out = new FileOutputStream(notDb)) {
            out.write(junk);
        }
        expectThrows(SeshStatus.STORE_ERROR, "a file that is no database",
                () -> Sesh.open(SeshOptions.builder().sqliteStore(notDb.getPath()).build()));
        check(Arrays.equals(junk, Files.readAllBytes(notDb.toPath())), "the file is left as it was");
        expectThrows(SeshStatus.INVALID_ARGUMENT, "empty SQLite path",
                () -> Sesh.open(SeshOptions.builder().sqliteStore("").build()));
    }

    static void exceptions() {
        AtomicLong now = new AtomicLong(T0);
        try (Sesh sesh = Sesh.open(clocked(now).build())) {
            SeshException e = expectThrows(SeshStatus.INVALID_ARGUMENT, "bad event id", () -> sesh.track("not-a-uuid"));
            check(e != null && e.getCode() == 2, "invalid_argument is 2");
            checkEq(null, sesh.getSessionId(), "a failed call changes nothing");
            expectThrows(SeshStatus.INVALID_ARGUMENT, "bad lifecycle event id", () -> sesh.background("xyz"));
            check(!sesh.isInBackground(), "a failed transition changes nothing");
            expectThrows(SeshStatus.INVALID_ARGUMENT, "negative timestamp", () -> sesh.trackAt(null, -1));
            expectThrows(SeshStatus.INVALID_ARGUMENT, "timestamp after year 9999",
                    () -> sesh.trackAt(null, 253_402_300_800_000L));
            expectThrows(SeshStatus.INVALID_UTF8, "unpaired surrogate in an event id", () -> sesh.track("\uDC00"));
            check(sesh.getLastError() != null, "getLastError says why");
            String at = sesh.trackAt("00000000-0000-4000-8000-000000000001", 1_234_567_891_012L);
            checkEq("2009-02-13T23:31:31.012Z", str(at, "firstEventTimestamp"), "trackAt's timestamp");
        }
        expectThrows(SeshStatus.INVALID_ARGUMENT, "empty namespace",
                () -> Sesh.open(SeshOptions.builder().namespace("").build()));
        expectThrows(SeshStatus.INVALID_ARGUMENT, "background timeout 0",
                () -> Sesh.open(SeshOptions.builder().backgroundTimeoutSeconds(0).build()));
        expectThrows(SeshStatus.INVALID_ARGUMENT, "negative max duration",
                () -> Sesh.open(SeshOptions.builder().maxDurationSeconds(-1).build()));
        try {
            Sesh.open(null);
            check(false, "open(null) throws");
        } catch (NullPointerException expected) {
            check(true, "open(null) throws NullPointerException");
        }
    }

    static void closedHandle() {
        Sesh sesh = Sesh.open(SeshOptions.builder().build());
        sesh.track();
        check(!sesh.isClosed(), "open");
        sesh.close();
        check(sesh.isClosed(), "closed");
        expectThrows(SeshStatus.CLOSED, "track after close", () -> sesh.track());
        expectThrows(SeshStatus.CLOSED, "getter after close", () -> sesh.getSessionId());
        expectThrows(SeshStatus.CLOSED, "control after close", () -> sesh.newSession());
        expectThrows(SeshStatus.CLOSED, "lifecycle after close", () -> sesh.background());
        sesh.close(); // idempotent
    }

    /** An exception thrown by a callback or clock never crashes the process. */
    static void callbackExceptions() {
        AtomicLong now = new AtomicLong(T0);
        final AtomicInteger clockThrows = new AtomicInteger();
        Log log = new Log();
        SessionListener throwing = new SessionListener() {
            @Override
            public void onSessionStart(String entityJson) {
                throw new IllegalArgumentException("listener bug");
            }

            @Override
            public void onSessionEnd(String summaryJson) {
                throw new Error("an Error, even");
            }
        };
        Clock clock = () -> {
            if (clockThrows.get() != 0) {
                throw new ArithmeticException("clock bug");
            }
            return now.get();
        };
        try (Sesh sesh = Sesh.open(SeshOptions.builder().clock(clock).sessionListener(throwing).logListener(log).build())) {
            check(sesh.track() != null, "track succeeds although the start callback threw");
            check(log.contains("SessionListener.onSessionStart threw java.lang.IllegalArgumentException: listener bug"),
                    "logged: " + log.messages);
            sesh.newSession();
            check(log.contains("SessionListener.onSessionEnd threw java.lang.Error: an Error, even"),
                    "Errors too: " + log.messages);
            clockThrows.set(1);
            expectThrows(SeshStatus.CALLBACK_ERROR, "a clock that throws", () -> sesh.track());
            check(log.contains("Clock.nowMs threw java.lang.ArithmeticException: clock bug"), "logged: " + log.messages);
            clockThrows.set(0);
            check(sesh.track() != null, "fine again afterwards");
        }
        // A clock out of range.
        expectThrows(SeshStatus.CALLBACK_ERROR, "a clock before 1970",
                () -> Sesh.open(SeshOptions.builder().clock(() -> -5).build()));
        // A log listener that throws: dropped (printed to stderr), nothing else happens.
        LogListener badLog = (level, message) -> {
            throw new RuntimeException("log listener bug (expected in this test)");
        };
        MapStore store = new MapStore();
        store.map.put("sesh.state.default", "garbage");
        try (Sesh sesh = Sesh.open(SeshOptions.builder().customStore(store).logListener(badLog).build())) {
            checkEq(SeshStatus.CORRUPT_STATE, sesh.getLastFault(), "logged through a throwing listener");
            check(sesh.track() != null, "still tracking");
        }
    }

    /** Callbacks and stores call back into the same Sesh (no lock held during callbacks). */
    static void reentrantCallbacks() {
        AtomicLong now = new AtomicLong(T0);
        final AtomicReference<Sesh> ref = new AtomicReference<>();
        final List<String> seen = new CopyOnWriteArrayList<>();
        SessionListener listener = new SessionListener() {
            @Override
            public void onSessionStart(String entityJson) {
                Sesh s = ref.get();
                if (s == null) {
                    return;
                }
                seen.add("start:" + str(entityJson, "sessionId").equals(s.getSessionId()) + ":" + s.getEventIndex());
            }

            @Override
            public void onSessionEnd(String summaryJson) {
                Sesh s = ref.get();
                seen.add("end:" + str(summaryJson, "userId").equals(s.getUserId()));
                // Even an event: it lands in the session that is starting.
                seen.add("tracked:" + (s.track() != null));
            }
        };
        final AtomicInteger reentered = new AtomicInteger();
        MapStore store = new MapStore() {
            @Override
            public boolean set(String key, String value) {
                Sesh s = ref.get();
                // close() writes last, after the handle stopped taking calls: those say CLOSED.
                if (s != null && !s.isClosed()) {
                    s.getSessionIndex();
                    s.isInBackground();
                    reentered.incrementAndGet();
                }
                return super.set(key, value);
            }
        };
        try (Sesh sesh = Sesh.open(clocked(now).sessionListener(listener).customStore(store).build())) {
            ref.set(sesh);
            sesh.track();
            checkEq(Collections.singletonList("start:true:1"), seen, "start callback sees its own session");
            sesh.newSession();
            checkEq(Arrays.asList("start:true:1", "end:true", "tracked:true", "start:true:1"), seen,
                    "end callback calls back in; the start of the new session follows");
            check(reentered.get() > 0, "the store called back in");
        }
    }

    /** A callback may close the handle it is called from: the call in progress finishes, the
     * handle is freed after it, every later call says closed. */
    static void closeFromCallback() {
        AtomicLong now = new AtomicLong(T0);
        final AtomicReference<Sesh> ref = new AtomicReference<>();
        MapStore store = new MapStore();
        Sesh sesh = Sesh.open(clocked(now).customStore(store).sessionListener(new SessionListener() {
            @Override
            public void onSessionStart(String entityJson) {
                ref.get().close();
            }
        }).build());
        ref.set(sesh);
        String entity = null;
        try {
            entity = sesh.track();
        } catch (SeshException e) {
            check(false, "the call that closed from its callback failed: " + e);
        }
        check(entity != null, "the call in progress returns its entity");
        check(sesh.isClosed(), "closed");
        checkEq(1, store.releases.get(), "freed (store released) once that call returned");
        expectThrows(SeshStatus.CLOSED, "after a close from a callback", () -> sesh.track());
    }

    static void manualMode() {
        AtomicLong now = new AtomicLong(T0);
        Recorder rec = new Recorder();
        try (Sesh sesh = Sesh.open(clocked(now).automatic(false).sessionListener(rec).build())) {
            checkEq(null, sesh.track(), "manual mode outside a session: null");
            checkEq(Sesh.NO_SESSION, sesh.getEventIndex(), "nothing counted");
            Lifecycle bg = sesh.background();
            check(bg != null && bg.getEventJson().contains("application_background"), "the transition still happens");
            checkEq(null, bg.getEntityJson(), "with no entity");
            check(sesh.isInBackground(), "state flipped");
            sesh.beginSession();
            checkEq(1, rec.starts.size(), "beginSession starts one");
            now.addAndGet(100_000_000L);
            String e = sesh.track();
            checkEq(1L, num(e, "eventIndex"), "no timeout in manual mode");
            check(sesh.endSession(), "endSession");
            checkEq(null, sesh.track(), "outside again");
        }
    }

    static void controls() {
        AtomicLong now = new AtomicLong(T0);
        Recorder rec = new Recorder();
        try (Sesh sesh = Sesh.open(clocked(now).foregroundTimeoutSeconds(60).sessionListener(rec).build())) {
            String e1 = sesh.track();
            String user = str(e1, "userId");
            sesh.pause();
            now.addAndGet(600_000);
            sesh.check();
            checkEq(0, rec.ends.size(), "check does nothing while paused");
            checkEq(str(e1, "sessionId"), str(sesh.track(), "sessionId"), "no timeout while paused");
            sesh.resume();
            now.addAndGet(61_000);
            sesh.check();
            checkEq(1, rec.ends.size(), "check ends a timed-out session");
            checkEq("timeout", str(rec.ends.get(0), "reason"), "reason timeout");
            checkEq(null, sesh.getSessionId(), "no session after check");

            checkEq(2L, num(sesh.track(), "sessionIndex"), "the next event starts session 2");
            sesh.setAnonymous(true);
            checkEq(NIL, sesh.getUserId(), "anonymous: nil user");
            checkEq(NIL, str(sesh.track(), "userId"), "anonymous entity");
            checkEq("anonymity_changed", str(rec.ends.get(rec.ends.size() - 1), "reason"), "reason anonymity_changed");
            sesh.setAnonymous(false);
            checkEq(user, sesh.getUserId(), "the user is back");

            sesh.resetUser();
            checkEq("user_changed", str(rec.ends.get(rec.ends.size() - 1), "reason"), "reason user_changed");
            checkEq(null, sesh.getSessionId(), "no session after resetUser");
            String e = sesh.track();
            check(!user.equals(str(e, "userId")), "a new user");
            checkEq(1L, num(e, "sessionIndex"), "sessionIndex starts again at 1");
            checkEq(null, str(e, "previousSessionId"), "no previous session");
            checkEq(str(e, "firstEventId"), sesh.getFirstEventId(), "getFirstEventId");
        }
        try (Sesh sesh = Sesh.open(clocked(now).startInBackground(true).continueOnRestart(false)
                .maxDurationSeconds(10).build())) {
            check(sesh.isInBackground(), "startInBackground");
            String e1 = sesh.track();
            now.addAndGet(11_000);
            String e2 = sesh.track();
            check(!str(e1, "sessionId").equals(str(e2, "sessionId")), "maxDuration renews");
        }
    }

    /** Several threads track on one handle at once. */
    static void threads() throws InterruptedException {
        final AtomicLong now = new AtomicLong(T0);
        Recorder rec = new Recorder();
        MapStore store = new MapStore();
        final int threads = 4;
        final int perThread = 2_000;
        final Set<Long> indexes = ConcurrentHashMap.newKeySet();
        final Set<String> sessions = ConcurrentHashMap.newKeySet();
        final List<Throwable> errors = new CopyOnWriteArrayList<>();
        // The clock moves a millisecond per reading, from several threads at once.
        try (final Sesh sesh = Sesh.open(SeshOptions.builder().clock(now::getAndIncrement)
                .sessionListener(rec).customStore(store).build())) {
            final CountDownLatch go = new CountDownLatch(1);
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                Thread worker = new Thread(() -> {
                    try {
                        go.await();
                        for (int i = 0; i < perThread; i++) {
                            String e = sesh.track();
                            indexes.add(num(e, "eventIndex"));
                            sessions.add(str(e, "sessionId"));
                        }
                    } catch (Throwable e) {
                        errors.add(e);
                    }
                }, "tracker-" + t);
                workers.add(worker);
                worker.start();
            }
            Thread reader = new Thread(() -> {
                try {
                    go.await();
                    for (int i = 0; i < 2_000; i++) {
                        sesh.getEntity();
                        sesh.getUserId();
                        sesh.check();
                    }
                } catch (Throwable e) {
                    errors.add(e);
                }
            }, "reader");
            reader.start();
            go.countDown();
            for (Thread worker : workers) {
                worker.join();
            }
            reader.join();
            checkEq(Collections.emptyList(), errors, "no errors in the threads");
            checkEq(1, sessions.size(), "one session");
            checkEq(threads * perThread, indexes.size(), "every event index handed out once");
            checkEq((long) threads * perThread, sesh.getEventIndex(), "the last index");
            checkEq(1, rec.starts.size(), "one start callback");
        }
        checkEq(1, store.releases.get(), "released");
    }

    /** close() on one thread while others track: each call gets its entity or CLOSED. */
    static void closeWhileThreadsTrack() throws InterruptedException {
        MapStore store = new MapStore();
        final Sesh sesh = Sesh.open(SeshOptions.builder().customStore(store).build());
        final List<Throwable> errors = new CopyOnWriteArrayList<>();
        final AtomicInteger tracked = new AtomicInteger();
        final AtomicInteger closedSeen = new AtomicInteger();
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            Thread worker = new Thread(() -> {
                try {
                    while (true) {
                        sesh.track();
                        sesh.getSessionIndex();
                        tracked.incrementAndGet();
                    }
                } catch (SeshException e) {
                    if (e.getStatus() == SeshStatus.CLOSED) {
                        closedSeen.incrementAndGet();
                    } else {
                        errors.add(e);
                    }
                } catch (Throwable e) {
                    errors.add(e);
                }
            });
            workers.add(worker);
            worker.start();
        }
        while (tracked.get() < 2_000) {
            Thread.sleep(1);
        }
        sesh.close();
        for (Thread worker : workers) {
            worker.join();
        }
        checkEq(Collections.emptyList(), errors, "only CLOSED after close");
        checkEq(4, closedSeen.get(), "every thread saw CLOSED");
        checkEq(1, store.releases.get(), "the store released once, after the last call");
    }

    /** Many callbacks in one handle's life: no local reference piles up (-Xcheck:jni says). */
    static void manyCallbacks() {
        AtomicLong now = new AtomicLong(T0);
        final AtomicInteger starts = new AtomicInteger();
        MapStore store = new MapStore();
        try (Sesh sesh = Sesh.open(clocked(now).foregroundTimeoutSeconds(1).customStore(store)
                .sessionListener(new SessionListener() {
                    @Override
                    public void onSessionStart(String entityJson) {
                        starts.incrementAndGet();
                    }
                }).logListener((level, message) -> { }).build())) {
            for (int i = 0; i < 3_000; i++) {
                now.addAndGet(2_000); // every event times the session out: end + start + writes
                sesh.track();
            }
        }
        checkEq(3_000, starts.get(), "a session per event");
        check(store.sets.get() >= 3_000, "a write per session");
    }

    /**
     * Callbacks on a thread the JVM does not know (sesh called from a pthread): the glue
     * attaches it for each callback and detaches it after. Needs the test hooks library
     * (-Dsesh.jni.library=.../libsesh_jni_testhooks.so); skipped with the production one
     * unless -Dsesh.test.requireHooks=true.
     */
    static void nativeThreadCallbacks() throws Exception {
        final AtomicLong now = new AtomicLong(T0);
        final Set<String> clockThreads = ConcurrentHashMap.newKeySet();
        final Set<String> listenerThreads = ConcurrentHashMap.newKeySet();
        final Set<String> storeThreads = ConcurrentHashMap.newKeySet();
        final Recorder rec = new Recorder();
        Log log = new Log();
        MapStore store = new MapStore() {
            @Override
            public boolean set(String key, String value) {
                storeThreads.add(Thread.currentThread().getName());
                return super.set(key, value);
            }
        };
        SessionListener listener = new SessionListener() {
            @Override
            public void onSessionStart(String entityJson) {
                listenerThreads.add(Thread.currentThread().getName());
                rec.onSessionStart(entityJson);
                if (num(entityJson, "sessionIndex") == 2) {
                    throw new IllegalStateException("thrown on a native thread");
                }
            }

            @Override
            public void onSessionEnd(String summaryJson) {
                listenerThreads.add(Thread.currentThread().getName());
                rec.onSessionEnd(summaryJson);
            }
        };
        Clock clock = () -> {
            clockThreads.add(Thread.currentThread().getName());
            return now.get();
        };
        try (Sesh sesh = Sesh.open(SeshOptions.builder().clock(clock).sessionListener(listener)
                .customStore(store).logListener(log).build())) {
            sesh.track();
            java.lang.reflect.Field field = Sesh.class.getDeclaredField("handle");
            field.setAccessible(true);
            long handle = field.getLong(sesh);
            String entity;
            try {
                entity = SeshTestHooks.trackOnNativeThread(handle);
            } catch (UnsatisfiedLinkError e) {
                check(!Boolean.getBoolean("sesh.test.requireHooks"), "the test hooks are there");
                System.out.println("     (nativeThreadCallbacks skipped: the production library has no test hooks)");
                return;
            }
            checkEq(2L, num(entity, "sessionIndex"), "native thread: new session");
            checkEq(1L, num(entity, "eventIndex"), "native thread: its first event");
            check(clockThreads.contains("sesh-callback"), "the clock ran on the attached thread: " + clockThreads);
            check(listenerThreads.contains("sesh-callback"), "the listener ran on it: " + listenerThreads);
            check(storeThreads.contains("sesh-callback"), "the store ran on it: " + storeThreads);
            checkEq(3, rec.order.size(), "start, end, start");
            check(log.contains("SessionListener.onSessionStart threw java.lang.IllegalStateException: thrown on a native thread"),
                    "an exception on the native thread is caught and logged: " + log.messages);
            checkEq(str(entity, "sessionId"), sesh.getSessionId(), "the Java side sees that session");
        }
        // Detached again: the JVM no longer lists the thread.
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            check(!t.getName().equals("sesh-callback"), "a native thread stayed attached: " + t);
        }
    }
}

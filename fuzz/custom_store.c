/*
 * Fuzz target `custom_store`: the custom-store path of the C ABI.
 *
 * A SeshCustomStore written here hands sesh the fuzzer's bytes from `get` through
 * sesh_store_sink_write (sometimes twice, empty, with NULL arguments, or with a failing
 * status), fails `set` when told to, and may call back into the handle from inside `set` and
 * from the session callbacks. The handle then runs the input's operations through the C ABI
 * only, including a close, free and reopen on the same options and store.
 *
 * Input: `STATE \0 USER \0 CONTROL`, as target `state` (fuzz/src/lib.rs), whose seeds it
 * shares. STATE and USER are what `get` returns for `sesh.state.<namespace>` and
 * `sesh.user_id` (empty: not found). CONTROL: 4 header bytes, then (op, arg, step) triples.
 *   h0, h1: options, as target `state` reads them; h1 bits 4-6 also pick the store's
 *           storageMechanism (5-7: invalid values) and bit 7 a namespace the setter refuses.
 *   h2:     how `get` answers: bits 0-1 for the user key, 2-3 for the state key (0: the
 *           value; 1: STORE_ERROR; 2: CORRUPT_STATE; 3: the awkward sink calls, then the
 *           value), bits 4-5 the status returned after an awkward write (OK, an unknown one).
 *   h3:     bits 0-1: when `set` fails (never, always, every other call, the first call);
 *           bits 4-7: what a callback (`set`, session start or end) calls on the handle.
 *
 * Checked, besides what AddressSanitizer and UBSan see: no call returns SESH_STATUS_PANIC or
 * an unknown status; returned strings are there when the status says so; entities fit
 * SESH_MAX_ENTITY_SIZE; sink writes answer as documented; sesh only uses its two keys and
 * writes a UUID under the user's; the store is never called after `destroy`, which runs
 * exactly once, after the options and every handle are freed; and a reopen on what sesh
 * itself wrote reports no fault.
 */
#define _GNU_SOURCE
#include "sesh.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1234567890000LL
#define MAX_TIMESTAMP_MS 253402300799999LL

#define FAIL(...)                                                                          \
    do {                                                                                   \
        fprintf(stderr, "custom_store: " __VA_ARGS__);                                     \
        fputc('\n', stderr);                                                               \
        abort();                                                                           \
    } while (0)

static const int64_t STEPS_MS[16] = {
    0,         1,         500,        999,        1000,           1001,
    29999,     30000,     60000,      1799999,    1800000,        1800001,
    3600000,   86400000,  7 * 86400000LL, 1000000000,
};

/* ----- the store ----------------------------------------------------------------------- */

typedef struct {
    uint8_t *data;
    size_t len;
    bool present;
    bool from_sesh; /* the value is one sesh wrote */
} Value;

typedef struct {
    Value user, state;
    char state_key[64];
    uint8_t get_user_mode, get_state_mode, awkward_status;
    uint8_t set_fail_mode;
    unsigned set_calls, set_failures;
    int destroyed;
    bool reopen_clean; /* a reopen that must find no fault: `get` answers plainly */
} Store;

static Store store;
static SeshHandle *live; /* the handle callbacks may call back into */
static uint8_t reenter_op;
static int depth;
/* Callbacks call back at most this often per input: a store that tracks an event on every
 * write, while in background where every event is written, would never stop. */
static int reenter_budget;
static int64_t clock_now;

static void value_set(Value *v, const void *data, size_t len) {
    free(v->data);
    v->data = NULL;
    v->len = len;
    v->present = true;
    if (len > 0) {
        v->data = malloc(len);
        if (v->data == NULL) {
            abort();
        }
        memcpy(v->data, data, len);
    }
}

static void value_clear(Value *v) {
    free(v->data);
    memset(v, 0, sizeof *v);
}

static SeshStatus check_status(const char *what, SeshStatus s) {
    if ((int)s < SESH_STATUS_OK || (int)s >= SESH_STATUS_PANIC) {
        FAIL("%s returned status %d (%s)", what, (int)s,
             sesh_status_name((int32_t)s) ? sesh_status_name((int32_t)s) : "unknown");
    }
    return s;
}

static Value *value_for(const char *key) {
    if (key == NULL) {
        FAIL("a store call without a key");
    }
    if (strcmp(key, "sesh.user_id") == 0) {
        return &store.user;
    }
    if (strcmp(key, store.state_key) == 0) {
        return &store.state;
    }
    FAIL("a store call with key \"%s\" (expected sesh.user_id or %s)", key, store.state_key);
}

static int32_t store_get(void *user_data, const char *key, SeshStoreSink *sink) {
    if (user_data != &store || store.destroyed) {
        FAIL("get after destroy or with the wrong user data");
    }
    Value *v = value_for(key);
    uint8_t mode = store.reopen_clean ? 0 : v == &store.user ? store.get_user_mode
                                                               : store.get_state_mode;
    if (mode == 1) {
        return SESH_STATUS_STORE_ERROR;
    }
    if (mode == 2) {
        return SESH_STATUS_CORRUPT_STATE;
    }
    if (mode == 3) {
        /* The awkward calls: each answers as the header says, and the last write wins. */
        char byte = 'x';
        if (sesh_store_sink_write(NULL, &byte, 1) != SESH_STATUS_NULL_ARGUMENT) {
            FAIL("sink_write(NULL sink) did not answer NULL_ARGUMENT");
        }
        if (sesh_store_sink_write(sink, NULL, 5) != SESH_STATUS_NULL_ARGUMENT) {
            FAIL("sink_write(NULL data, 5) did not answer NULL_ARGUMENT");
        }
        if (sesh_store_sink_write(sink, NULL, 0) != SESH_STATUS_OK) {
            FAIL("sink_write(NULL data, 0) did not answer OK");
        }
        if (sesh_store_sink_write(sink, "junk", 4) != SESH_STATUS_OK) {
            FAIL("sink_write(junk) did not answer OK");
        }
    }
    if (v->present) {
        /* A copy the size of the value, so that AddressSanitizer sees any over-read. */
        char *copy = v->len > 0 ? malloc(v->len) : NULL;
        if (v->len > 0) {
            if (copy == NULL) {
                abort();
            }
            memcpy(copy, v->data, v->len);
        }
        SeshStatus s = sesh_store_sink_write(sink, copy, v->len);
        free(copy);
        if (s != SESH_STATUS_OK) {
            FAIL("sink_write of a %zu-byte value answered %d", v->len, (int)s);
        }
    }
    if (mode == 3) {
        switch (store.awkward_status) {
        case 1:
            return 12345; /* no status: a failure */
        case 2:
            return SESH_STATUS_PANIC;
        default:
            return SESH_STATUS_OK;
        }
    }
    return SESH_STATUS_OK;
}

static bool is_uuid(const char *text) {
    if (strlen(text) != 36) {
        return false;
    }
    for (int i = 0; i < 36; i++) {
        char c = text[i];
        bool hyphen = i == 8 || i == 13 || i == 18 || i == 23;
        if (hyphen ? c != '-'
                   : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                       (c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return true;
}

static void reenter(const char *from);

/* is_uuid for 36 bytes that need not end with a NUL. */
static bool is_uuid_n(const char *p) {
    char text[37];
    memcpy(text, p, 36);
    text[36] = '\0';
    return is_uuid(text);
}

static int32_t store_set(void *user_data, const char *key, const char *value) {
    if (user_data != &store || store.destroyed) {
        FAIL("set after destroy or with the wrong user data");
    }
    Value *v = value_for(key);
    if (value == NULL) {
        FAIL("set(%s) with a NULL value", key);
    }
    if (v == &store.user && !is_uuid(value)) {
        FAIL("sesh wrote user id \"%s\"", value);
    }
    size_t n = strlen(value);
    if (v == &store.state && (n < 2 || value[0] != '{' || value[n - 1] != '}')) {
        FAIL("sesh wrote state that is no JSON object: %s", value);
    }
    unsigned call = store.set_calls++;
    bool fail = false;
    if (!store.reopen_clean) {
        switch (store.set_fail_mode) {
        case 1:
            fail = true;
            break;
        case 2:
            fail = call % 2 == 1;
            break;
        case 3:
            fail = call == 0;
            break;
        default:
            break;
        }
    }
    reenter("set");
    if (fail) {
        store.set_failures++;
        return call % 3 == 0 ? SESH_STATUS_STORE_ERROR : 77;
    }
    value_set(v, value, n);
    v->from_sesh = true;
    return SESH_STATUS_OK;
}

static void store_destroy(void *user_data) {
    if (user_data != &store) {
        FAIL("destroy with the wrong user data");
    }
    store.destroyed++;
}

/* ----- callbacks ----------------------------------------------------------------------- */

static int64_t fuzz_clock(void *user_data) {
    (void)user_data;
    return clock_now;
}

static void check_entity(const char *what, const char *json) {
    if (json == NULL) {
        FAIL("%s: NULL entity", what);
    }
    size_t n = strlen(json);
    if (n >= SESH_MAX_ENTITY_SIZE || n < 2 || json[0] != '{' || json[n - 1] != '}') {
        FAIL("%s: an entity of %zu bytes: %s", what, n, json);
    }
}

static void on_start(void *user_data, const char *json) {
    (void)user_data;
    check_entity("session start", json);
    reenter("session start");
}

static void on_end(void *user_data, const char *json) {
    (void)user_data;
    if (json == NULL || json[0] != '{') {
        FAIL("session end: %s", json ? json : "NULL");
    }
    reenter("session end");
}

static void on_log(void *user_data, int32_t level, const char *message) {
    (void)user_data;
    if (message == NULL || level < SESH_LOG_LEVEL_ERROR || level > SESH_LOG_LEVEL_DEBUG) {
        FAIL("log level %d message %s", (int)level, message ? message : "NULL");
    }
}

/* ----- operations ---------------------------------------------------------------------- */

static void free_string(char *s) {
    sesh_string_free(s);
}

static void getters(SeshHandle *h) {
    SeshStatus (*strings[])(SeshHandle *, char **) = {
        sesh_user_get_id,           sesh_session_get_id,
        sesh_session_get_previous_id, sesh_session_get_first_event_id,
        sesh_session_get_first_event_timestamp, sesh_session_get_entity,
        sesh_handle_get_last_error,
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        char *out = NULL;
        SeshStatus s = check_status("a string getter", strings[i](h, &out));
        if (s == SESH_STATUS_OK && out == NULL && strings[i] != sesh_session_get_previous_id &&
            strings[i] != sesh_session_get_first_event_id &&
            strings[i] != sesh_session_get_first_event_timestamp &&
            strings[i] != sesh_handle_get_last_error) {
            FAIL("string getter %zu answered OK without a string", i);
        }
        if (s == SESH_STATUS_OK && strings[i] == sesh_session_get_entity) {
            check_entity("get entity", out);
        }
        if (s == SESH_STATUS_OK && strings[i] == sesh_user_get_id && !is_uuid(out)) {
            FAIL("user id \"%s\"", out);
        }
        free_string(out);
        /* A closed handle answers CLOSED before it looks at any argument (its last error
         * aside, which stays readable). */
        SeshStatus expected = s == SESH_STATUS_CLOSED && strings[i] != sesh_handle_get_last_error
                                  ? SESH_STATUS_CLOSED
                                  : SESH_STATUS_NULL_ARGUMENT;
        if (check_status("getter(NULL out)", strings[i](h, NULL)) != expected) {
            FAIL("string getter %zu with a NULL out-parameter did not answer %s", i,
                 sesh_status_name(expected));
        }
    }
    SeshStatus (*indexes[])(SeshHandle *, int64_t *) = {
        sesh_session_get_index,            sesh_session_get_event_index,
        sesh_session_get_background_index, sesh_session_get_foreground_index,
    };
    for (size_t i = 0; i < sizeof indexes / sizeof indexes[0]; i++) {
        int64_t out = -7;
        SeshStatus s = check_status("an index getter", indexes[i](h, &out));
        if (s == SESH_STATUS_OK && (out < 0 || out > INT32_MAX)) {
            FAIL("index getter %zu answered %lld", i, (long long)out);
        }
    }
    bool bg = false;
    check_status("in_background", sesh_app_get_in_background(h, &bg));
    SeshStatus fault = SESH_STATUS_OK;
    check_status("last_fault", sesh_handle_get_last_fault(h, &fault));
    if ((int)fault < 0 || (int)fault >= SESH_STATUS_PANIC) {
        FAIL("last fault %d", (int)fault);
    }
}

static const char *event_id(uint8_t arg, char *buf, size_t cap) {
    switch (arg >> 5) {
    case 0:
    case 1:
    case 2:
    case 3:
        snprintf(buf, cap, "eeeeeeee-0000-4000-8000-%012x", arg & 0x3f);
        return buf;
    case 4:
        snprintf(buf, cap, "EEEEEEEE-0000-4000-8000-%012X", arg & 0x1f);
        return buf;
    case 5:
        return "eeeeeeee00004000800000000000000f";
    case 6:
        return "\xff\xfe-not-utf8";
    default:
        return "";
    }
}

/* Runs one operation on the handle; `nested` when called back from inside sesh. */
static void run_op(SeshHandle *h, uint8_t op, uint8_t arg) {
    char idbuf[64];
    char *entity = NULL, *event = NULL;
    switch (op & 15) {
    case 0:
        if (arg & 0x40) {
            bool in_background = false;
            SeshStatus expected =
                sesh_app_get_in_background(h, &in_background) == SESH_STATUS_CLOSED
                    ? SESH_STATUS_CLOSED
                    : SESH_STATUS_NULL_ARGUMENT;
            if (check_status("track", sesh_event_track(h, NULL, NULL)) != expected) {
                FAIL("track with a NULL out-parameter did not answer %s",
                     sesh_status_name(expected));
            }
            break;
        }
        /* fall through */
    case 1: {
        const char *id = (op & 15) == 1 ? event_id(arg, idbuf, sizeof idbuf) : NULL;
        if (check_status("track", sesh_event_track(h, id, &entity)) == SESH_STATUS_OK) {
            check_entity("track", entity);
        } else if (entity != NULL) {
            FAIL("track failed but wrote an entity");
        }
        break;
    }
    case 2: {
        int64_t ts = (arg & 3) == 0   ? clock_now
                     : (arg & 3) == 1 ? T0 - (int64_t)arg * 1000
                     : (arg & 3) == 2 ? -(int64_t)arg
                                      : MAX_TIMESTAMP_MS + (arg & 4 ? 1 : 0);
        if (check_status("track_at", sesh_event_track_at(h, NULL, ts, &entity)) ==
            SESH_STATUS_OK) {
            check_entity("track_at", entity);
        }
        break;
    }
    case 3:
    case 4: {
        const char *id = arg & 0x80 ? event_id((uint8_t)(arg << 1), idbuf, sizeof idbuf) : NULL;
        SeshStatus s = (op & 15) == 3 ? sesh_app_background(h, id, &event, &entity)
                                      : sesh_app_foreground(h, id, &event, &entity);
        if (check_status("transition", s) == SESH_STATUS_OK) {
            if (event != NULL && event[0] != '{') {
                FAIL("lifecycle event %s", event);
            }
            if (entity != NULL) {
                check_entity("transition", entity);
            }
        }
        break;
    }
    case 5:
        check_status("session new", arg & 1 ? sesh_session_begin(h) : sesh_session_new(h));
        break;
    case 6:
        check_status("session end", sesh_session_end(h));
        break;
    case 7:
        check_status("check", sesh_session_check(h));
        break;
    case 8:
        check_status("pause", sesh_session_pause(h));
        break;
    case 9:
        check_status("resume", sesh_session_resume(h));
        break;
    case 10:
        check_status("anonymous", sesh_anonymous_set(h, arg & 1));
        break;
    case 11:
        check_status("user reset", sesh_user_reset(h));
        break;
    case 12: {
        size_t cap = SESH_MAX_ENTITY_SIZE - 4 + (arg & 7);
        char *buffer = malloc(cap);
        if (buffer == NULL) {
            abort();
        }
        size_t len = 99999;
        SeshStatus s = check_status("track_into", sesh_event_track_into(h, NULL, buffer, cap, &len));
        if (s == SESH_STATUS_OK) {
            if (len >= cap || buffer[len] != '\0' || strlen(buffer) != len) {
                FAIL("track_into: length %zu in a buffer of %zu", len, cap);
            }
            check_entity("track_into", buffer);
        } else if (cap < SESH_MAX_ENTITY_SIZE && s != SESH_STATUS_INVALID_ARGUMENT &&
                   s != SESH_STATUS_CLOSED && s != SESH_STATUS_CALLBACK_ERROR) {
            FAIL("track_into with %zu bytes answered %d", cap, (int)s);
        }
        free(buffer);
        break;
    }
    case 13:
        getters(h);
        break;
    default:
        break;
    }
    free_string(entity);
    free_string(event);
}

static void reenter(const char *from) {
    if (live == NULL || depth > 0 || reenter_op == 0 || reenter_budget == 0) {
        return;
    }
    reenter_budget--;
    depth++;
    /* 1-13: that operation; 14: close the handle from inside the callback (from inside
     * `set`, this deadlocked before 95b6e03: corpus/custom_store/regress-close-inside-set). */
    (void)from;
    if (reenter_op == 14) {
        check_status("close from a callback", sesh_handle_close(live));
    } else if (reenter_op < 14) {
        run_op(live, reenter_op, 0);
    }
    depth--;
}

/* ----- options and the input --------------------------------------------------------- */

static SeshOptions *make_options(uint8_t h0, uint8_t h1) {
    static const int64_t foreground[4] = {1800, 1, 30, 5};
    static const int64_t background[4] = {1800, 1, 60, 3600};
    static const int64_t max_duration[4] = {0, 60, 3600, 1};
    static const char *const namespaces[4] = {"default", "default", "ns", "a.b"};
    static const int32_t mechanisms[8] = {0, 1, 2, 3, 4, -1, 5, 99};

    SeshOptions *o = NULL;
    if (check_status("options_new", sesh_options_new(&o)) != SESH_STATUS_OK || o == NULL) {
        FAIL("sesh_options_new failed");
    }
    const char *ns = namespaces[(h1 >> 2) & 3];
    check_status("namespace", sesh_options_set_namespace(o, ns));
    if (h1 & 0x80) {
        /* Refused (empty or not UTF-8): the namespace stays the one set before. */
        SeshStatus s = sesh_options_set_namespace(o, h0 & 1 ? "" : "\xc3\x28");
        if (check_status("bad namespace", s) == SESH_STATUS_OK) {
            FAIL("a namespace that is empty or not UTF-8 was taken");
        }
    }
    snprintf(store.state_key, sizeof store.state_key, "sesh.state.%s", ns);
    check_status("fg", sesh_options_set_foreground_timeout(o, foreground[(h0 >> 4) & 3]));
    check_status("bg", sesh_options_set_background_timeout(o, background[h0 >> 6]));
    check_status("max", sesh_options_set_max_duration(o, max_duration[h1 & 3]));
    check_status("continue", sesh_options_set_continue_on_restart(o, !(h0 & 1)));
    check_status("anonymous", sesh_options_set_anonymous(o, h0 & 2));
    check_status("automatic", sesh_options_set_automatic(o, !(h0 & 4)));
    check_status("start_bg", sesh_options_set_start_in_background(o, h0 & 8));
    check_status("clock", sesh_options_set_clock(o, fuzz_clock, NULL));
    check_status("start cb", sesh_options_set_session_start_callback(o, on_start, NULL));
    check_status("end cb", sesh_options_set_session_end_callback(o, on_end, NULL));
    check_status("log cb", sesh_options_set_log_callback(o, on_log, NULL));

    int32_t mechanism = mechanisms[(h1 >> 4) & 7];
    SeshCustomStore custom = {
        .user_data = &store,
        .storage_mechanism = mechanism,
        .get = store_get,
        .set = store_set,
        .destroy = store_destroy,
    };
    SeshStatus s = check_status("custom store", sesh_options_set_store_custom(o, &custom));
    if ((s == SESH_STATUS_OK) != (mechanism >= 0 && mechanism <= 4)) {
        FAIL("set_store_custom with storage_mechanism %d answered %d", (int)mechanism, (int)s);
    }
    if (s != SESH_STATUS_OK) {
        /* Nothing was taken: the same store with a valid mechanism. */
        custom.storage_mechanism = SESH_STORAGE_MECHANISM_LOCAL_STORAGE;
        if (sesh_options_set_store_custom(o, &custom) != SESH_STATUS_OK) {
            FAIL("set_store_custom refused a valid store");
        }
    }
    return o;
}

static SeshHandle *open_handle(SeshOptions *o) {
    SeshHandle *h = NULL;
    SeshStatus s = check_status("open", sesh_handle_open(o, &h));
    if ((s == SESH_STATUS_OK) != (h != NULL)) {
        FAIL("open answered %d with handle %p", (int)s, (void *)h);
    }
    if (s != SESH_STATUS_OK) {
        char *message = NULL;
        check_status("options last error", sesh_options_get_last_error(o, &message));
        if (message == NULL) {
            FAIL("a failed open left no message");
        }
        free_string(message);
    }
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* STATE \0 USER \0 CONTROL */
    const uint8_t *end = data + size;
    const uint8_t *nul1 = memchr(data, 0, size);
    const uint8_t *state = data;
    size_t state_len = nul1 ? (size_t)(nul1 - data) : size;
    const uint8_t *user = nul1 ? nul1 + 1 : end;
    const uint8_t *nul2 = nul1 ? memchr(user, 0, (size_t)(end - user)) : NULL;
    size_t user_len = nul2 ? (size_t)(nul2 - user) : (size_t)(end - user);
    const uint8_t *control = nul2 ? nul2 + 1 : end;
    size_t control_len = (size_t)(end - control);
    uint8_t h[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < 4 && i < control_len; i++) {
        h[i] = control[i];
    }

    memset(&store, 0, sizeof store);
    if (state_len > 0) {
        value_set(&store.state, state, state_len);
    }
    if (user_len > 0) {
        value_set(&store.user, user, user_len);
    }
    store.get_user_mode = h[2] & 3;
    store.get_state_mode = (h[2] >> 2) & 3;
    store.awkward_status = (h[2] >> 4) & 3;
    store.set_fail_mode = h[3] & 3;
    reenter_op = h[3] >> 4;
    reenter_budget = 4;
    live = NULL;
    depth = 0;
    clock_now = T0;

    SeshOptions *options = make_options(h[0], h[1]);
    SeshHandle *handle = open_handle(options);
    live = handle;

    for (size_t i = 4; i < control_len; i += 3) {
        uint8_t op = control[i];
        uint8_t arg = i + 1 < control_len ? control[i + 1] : 0;
        uint8_t step = i + 2 < control_len ? control[i + 2] : 0;
        clock_now = clock_now <= INT64_MAX - STEPS_MS[step & 15] ? clock_now + STEPS_MS[step & 15]
                                                                 : INT64_MAX;
        if ((op & 15) == 14) {
            /* Close, free, and reopen on the same options and store. */
            SeshStatus closed = SESH_STATUS_OK;
            if (handle != NULL) {
                closed = check_status("close", sesh_handle_close(handle));
                SeshStatus again = check_status("close again", sesh_handle_close(handle));
                if (again != SESH_STATUS_CLOSED) {
                    FAIL("a second close answered %d", (int)again);
                }
            }
            live = NULL;
            sesh_handle_free(handle);
            if (store.destroyed) {
                FAIL("destroy ran while the options still hold the store");
            }
            /* What sesh wrote (or a valid user id and no state) reads back without a fault. */
            bool user_ok = !store.user.present || store.user.from_sesh ||
                           (store.user.len == 36 && memchr(store.user.data, 0, 36) == NULL &&
                            is_uuid_n((const char *)store.user.data));
            bool state_ok = !store.state.present || store.state.from_sesh;
            bool clean = (arg & 1) && closed == SESH_STATUS_OK && user_ok && state_ok;
            store.reopen_clean = arg & 1;
            handle = open_handle(options);
            live = handle;
            if (handle != NULL && clean && clock_now >= 0 && clock_now <= MAX_TIMESTAMP_MS) {
                SeshStatus fault = SESH_STATUS_OK;
                check_status("last fault", sesh_handle_get_last_fault(handle, &fault));
                if (fault != SESH_STATUS_OK) {
                    FAIL("reopen on what sesh wrote found fault %d", (int)fault);
                }
            }
            store.reopen_clean = false;
            continue;
        }
        if ((op & 15) == 15) {
            switch (arg & 7) {
            case 0: clock_now = 0; break;
            case 1: clock_now = -1; break;
            case 2: clock_now = T0; break;
            case 3: clock_now = clock_now >= INT64_MIN + 1000 ? clock_now - 1000 : INT64_MIN; break;
            case 4: clock_now = MAX_TIMESTAMP_MS; break;
            case 5: clock_now = MAX_TIMESTAMP_MS + 1; break;
            case 6: clock_now = INT64_MAX; break;
            default: clock_now = INT64_MIN; break;
            }
            continue;
        }
        if (handle == NULL) {
            if (check_status("track on NULL", sesh_event_track(NULL, NULL, NULL)) !=
                SESH_STATUS_NULL_ARGUMENT) {
                FAIL("a NULL handle did not answer NULL_ARGUMENT");
            }
            continue;
        }
        run_op(handle, op, arg);
    }

    live = NULL;
    sesh_handle_free(handle);
    if (store.destroyed) {
        FAIL("destroy ran while the options still hold the store");
    }
    sesh_options_free(options);
    if (store.destroyed != 1) {
        FAIL("destroy ran %d times", store.destroyed);
    }
    value_clear(&store.user);
    value_clear(&store.state);
    return 0;
}

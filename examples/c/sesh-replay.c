/*
 * sesh-replay: plays a session timeline against sesh, through the C ABI only.
 *
 * Reads a scenario (one operation a line; the format is described in docs/replay.md) from
 * FILE or stdin, runs each operation on a virtual clock that reads the line's time, and
 * prints one JSON object a line with what the library returned: its status, the entity and
 * lifecycle event JSON verbatim, and what the session start/end callbacks received during
 * the operation. It shows a person what sesh does with a timeline, and lets any test check
 * the behaviour contract (docs/behaviour.md) without knowing the API
 * (tests/scenarios/check.py compares its output with the scenarios' .expected files and
 * checks their inline assertions).
 *
 *     sesh-replay [FILE]
 *
 * `T @NAME OP ...` runs OP in a named process: a fresh exec of this program (its own path,
 * as /proc/self/exe names it, else argv[0]) started in a hidden mode by the first line that
 * names it, with a handle, options, store and virtual clock of its own. The driver hands it
 * each of its lines over a pipe and waits for the answer (the output line, or a bare
 * acknowledgement for lines that print nothing) before it reads the next line, so every
 * line runs in file order.
 *
 * Choices the format leaves open, made here:
 *   - A line whose time or operation cannot be read, that has extra or malformed arguments,
 *     or an unknown operation, prints status "invalid_argument" and changes nothing
 *     ("t" is null when the time itself is unreadable).
 *   - A `config` line with an unknown key or a value that is not an integer (a 0|1 flag
 *     that is neither), or a `store` line that is not `sqlite PATH`, `memory` or
 *     `custom PATH`, prints nothing: the next `open` prints "invalid_argument". A setter's
 *     own failure (an out-of-range timeout, `store sqlite` while the build has no SQLite
 *     store) is printed by the next `open` as that setter's status.
 *   - `store custom PATH` is file_store.c (the example custom store): the JSON sesh hands
 *     it is kept in PATH, rewritten atomically on every set. A PATH that exists but is no
 *     such file (e.g. an SQLite database) is left alone and the next `open` prints
 *     "store_error", with no handle, as sesh itself does for a damaged SQLite file.
 *   - `open` frees the previous handle first (which closes it if it is still open).
 *   - Handle operations before any successful `open` print "closed"; after `close` the
 *     closed handle is kept, so the library itself answers "closed".
 *   - `get` has status "ok" when the handle answered (a missing session shows as nulls),
 *     else the library's status (e.g. "closed", every field null).
 *   - The library's log messages go to stderr; stdout carries only the JSON lines.
 *   - Named processes: a line `T @NAME` with no operation prints "invalid_argument" (with
 *     "proc") and starts nothing. A second token that starts with `@` but whose name is
 *     empty or holds anything but ASCII letters and digits, or a `@NAME` line whose time
 *     cannot be read, is an unknown operation of the driver's own ("op" is that token, no
 *     "proc"). Inside a named process another `@NAME` is an unknown operation too.
 *     `T @NAME kill` of a process that is not running does nothing. A named process that
 *     dies before it answers a line (a crash, a kill from outside, an exec that failed)
 *     makes that line print status "panic" with null entity, event and callbacks, and a
 *     note on stderr; the process then counts as ended, so the next line naming it starts
 *     a fresh one. At the end of the input every running named process closes its handle
 *     and exits, in the order the processes were started.
 *
 * Exit status: 0 when the scenario was read to its end (whatever the library answered, and
 * whatever became of the named processes), 1 when FILE cannot be read, 2 on a usage error
 * or when memory runs out.
 */

#define _POSIX_C_SOURCE 200809L

#include "file_store.h"
#include "sesh.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Named processes (`T @NAME OP`) need fork, exec and pipes. A build that defines
 * SESH_REPLAY_NO_PROCS (the fuzz harness, which runs this program inside its own process)
 * answers every `@NAME` line with status "unsupported" instead. */
#ifndef SESH_REPLAY_NO_PROCS
#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#endif

/* ----- growable text ------------------------------------------------------------------ */

typedef struct {
    char *data;
    size_t len;
    size_t cap;
} Buf;

static void die_oom(void) {
    fputs("sesh-replay: out of memory\n", stderr);
    fflush(stdout);
    _exit(2);
}

static void buf_reserve(Buf *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) {
        return;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        cap *= 2;
    }
    char *data = realloc(b->data, cap);
    if (data == NULL) {
        die_oom();
    }
    b->data = data;
    b->cap = cap;
}

static void buf_add_n(Buf *b, const char *text, size_t n) {
    buf_reserve(b, n);
    memcpy(b->data + b->len, text, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void buf_add(Buf *b, const char *text) {
    buf_add_n(b, text, strlen(text));
}

static void buf_addf(Buf *b, const char *format, ...) {
    va_list args;
    va_start(args, format);
    char small[64];
    int n = vsnprintf(small, sizeof small, format, args);
    va_end(args);
    if (n < 0) {
        return;
    }
    if ((size_t)n < sizeof small) {
        buf_add_n(b, small, (size_t)n);
        return;
    }
    buf_reserve(b, (size_t)n);
    va_start(args, format);
    vsnprintf(b->data + b->len, (size_t)n + 1, format, args);
    va_end(args);
    b->len += (size_t)n;
}

static void buf_clear(Buf *b) {
    b->len = 0;
    if (b->data != NULL) {
        b->data[0] = '\0';
    }
}

static void buf_free(Buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* The length of the valid UTF-8 sequence at s (n bytes left), or 0 when it is not one. */
static size_t utf8_sequence(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0; /* overlong, out of range or a surrogate */
    }
    return len;
}

/* Adds text as a JSON string: quotes and backslashes escaped, control characters as
 * \u00XX, bytes that are not UTF-8 as U+FFFD, so the line stays valid JSON. */
static void buf_add_json_string(Buf *b, const char *text) {
    const unsigned char *s = (const unsigned char *)text;
    size_t n = strlen(text);
    buf_add(b, "\"");
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c == '"') {
            buf_add(b, "\\\"");
        } else if (c == '\\') {
            buf_add(b, "\\\\");
        } else if (c == '\n') {
            buf_add(b, "\\n");
        } else if (c == '\r') {
            buf_add(b, "\\r");
        } else if (c == '\t') {
            buf_add(b, "\\t");
        } else if (c < 0x20 || c == 0x7F) {
            buf_addf(b, "\\u%04x", c);
        } else if (c >= 0x80) {
            size_t len = utf8_sequence(s + i, n - i);
            if (len == 0) {
                buf_add(b, "\\ufffd");
                i++;
            } else {
                buf_add_n(b, text + i, len);
                i += len;
            }
            continue;
        } else {
            buf_add_n(b, text + i, 1);
        }
        i++;
    }
    buf_add(b, "\"");
}

/* A JSON string, or null for NULL. */
static void buf_add_json_string_or_null(Buf *b, const char *text) {
    if (text == NULL) {
        buf_add(b, "null");
    } else {
        buf_add_json_string(b, text);
    }
}

/* The library's JSON as it gave it, or null. */
static void buf_add_raw_or_null(Buf *b, const char *json) {
    buf_add(b, json != NULL ? json : "null");
}

/* ----- the virtual clock and the callbacks --------------------------------------------- */

/* The current line's time: what the injected clock reads. */
static int64_t virtual_now;

/* The process name printed as "proc" on the next output line: in a named process its own
 * NAME for every line, in the driver the name of a process it answers for (a line it could
 * not hand over), else NULL. */
static const char *line_proc;

static int64_t replay_clock(void *user_data) {
    (void)user_data;
    return virtual_now;
}

/* What the session callbacks received during the current operation, as the items of the
 * "callbacks" array. */
static Buf callbacks;

static void add_callback(const char *kind, const char *json) {
    if (callbacks.len > 0) {
        buf_add(&callbacks, ",");
    }
    buf_add(&callbacks, "{\"kind\":\"");
    buf_add(&callbacks, kind);
    buf_add(&callbacks, "\",\"data\":");
    buf_add_raw_or_null(&callbacks, json);
    buf_add(&callbacks, "}");
}

static void on_session_start(void *user_data, const char *json) {
    (void)user_data;
    add_callback("session_start", json);
}

static void on_session_end(void *user_data, const char *json) {
    (void)user_data;
    add_callback("session_end", json);
}

static void on_log(void *user_data, int32_t level, const char *message) {
    (void)user_data;
    fprintf(stderr, "sesh-replay: log level %d at t=%lld%s%s: %s\n", (int)level,
            (long long)virtual_now, line_proc != NULL ? " in process " : "",
            line_proc != NULL ? line_proc : "", message != NULL ? message : "(null)");
}

/* ----- status names -------------------------------------------------------------------- */

static void buf_add_status(Buf *b, SeshStatus status) {
    const char *name = sesh_status_name((int32_t)status);
    if (name != NULL) {
        buf_add_json_string(b, name);
    } else {
        buf_addf(b, "\"status_%d\"", (int)status);
    }
}

/* ----- scenario state ------------------------------------------------------------------ */

/* What the latest `config` line asked for. Unset keys keep the library's defaults. */
typedef struct {
    bool bad; /* an unknown key or an unreadable value: the next open is invalid_argument */
    bool has_foreground_timeout, has_background_timeout, has_max_duration;
    int64_t foreground_timeout, background_timeout, max_duration;
    bool has_continue_on_restart, has_anonymous, has_automatic, has_start_in_background;
    bool continue_on_restart, anonymous, automatic, start_in_background;
    char *namespace_name; /* NULL: the default */
} Config;

typedef enum { STORE_MEMORY, STORE_SQLITE, STORE_CUSTOM } StoreKind;

/* What the latest `store` line asked for. */
typedef struct {
    bool bad;
    StoreKind kind;
    char *path; /* sqlite and custom */
} StoreChoice;

static Config config;
static StoreChoice store = {false, STORE_MEMORY, NULL};
/* The handle of the latest successful open, closed or not; NULL before any. */
static SeshHandle *handle;

static void config_reset(void) {
    free(config.namespace_name);
    memset(&config, 0, sizeof config);
}

static void store_reset(void) {
    free(store.path);
    store.bad = false;
    store.kind = STORE_MEMORY;
    store.path = NULL;
}

static char *copy_string(const char *text) {
    size_t n = strlen(text) + 1;
    char *copy = malloc(n);
    if (copy == NULL) {
        die_oom();
    }
    memcpy(copy, text, n);
    return copy;
}

/* ----- reading lines ------------------------------------------------------------------- */

#define MAX_TOKENS 64

static bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Splits line in place; returns the number of tokens (at most MAX_TOKENS + 1, which means
 * "too many"). */
static int tokenize(char *line, char **tokens) {
    int count = 0;
    char *p = line;
    for (;;) {
        while (*p != '\0' && is_space(*p)) {
            p++;
        }
        if (*p == '\0') {
            return count;
        }
        if (count == MAX_TOKENS) {
            return MAX_TOKENS + 1;
        }
        tokens[count++] = p;
        while (*p != '\0' && !is_space(*p)) {
            p++;
        }
        if (*p != '\0') {
            *p++ = '\0';
        }
    }
}

/* A decimal integer: an optional '-' and digits, nothing else, within int64. */
static bool parse_int64(const char *text, int64_t *out) {
    const char *p = text;
    if (*p == '-') {
        p++;
    }
    if (*p == '\0') {
        return false;
    }
    for (const char *q = p; *q != '\0'; q++) {
        if (*q < '0' || *q > '9') {
            return false;
        }
    }
    errno = 0;
    char *end = NULL;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || end == NULL || *end != '\0') {
        return false;
    }
    *out = (int64_t)value;
    return true;
}

static bool parse_flag(const char *text, bool *out) {
    if (strcmp(text, "0") == 0) {
        *out = false;
        return true;
    }
    if (strcmp(text, "1") == 0) {
        *out = true;
        return true;
    }
    return false;
}

/* ----- output -------------------------------------------------------------------------- */

static Buf out;

/* Starts a line: {"op":…,["proc":…,]"t":…,"status":… */
static void line_begin(const char *op, const int64_t *t, SeshStatus status) {
    buf_clear(&out);
    buf_add(&out, "{\"op\":");
    buf_add_json_string(&out, op);
    if (line_proc != NULL) {
        buf_add(&out, ",\"proc\":");
        buf_add_json_string(&out, line_proc);
    }
    buf_add(&out, ",\"t\":");
    if (t != NULL) {
        buf_addf(&out, "%lld", (long long)*t);
    } else {
        buf_add(&out, "null");
    }
    buf_add(&out, ",\"status\":");
    buf_add_status(&out, status);
}

/* ,"entity":…,"event":…,"callbacks":[…] */
static void line_results(const char *entity, const char *event) {
    buf_add(&out, ",\"entity\":");
    buf_add_raw_or_null(&out, entity);
    buf_add(&out, ",\"event\":");
    buf_add_raw_or_null(&out, event);
    buf_add(&out, ",\"callbacks\":[");
    if (callbacks.len > 0) {
        buf_add_n(&out, callbacks.data, callbacks.len);
    }
    buf_add(&out, "]");
}

static void line_end(void) {
    buf_add(&out, "}\n");
    fwrite(out.data, 1, out.len, stdout);
    fflush(stdout);
}

/* The usual line: status, entity, event and callbacks. */
static void print_result(const char *op, int64_t t, SeshStatus status, const char *entity,
                         const char *event) {
    line_begin(op, &t, status);
    line_results(entity, event);
    line_end();
}

/* A line with a status and nothing else (null entity and event, no callback). */
static void print_status_only(const char *op, const int64_t *t, SeshStatus status) {
    line_begin(op, t, status);
    line_results(NULL, NULL);
    if (strcmp(op, "open") == 0) {
        buf_add(&out, ",\"fault\":null");
    }
    line_end();
}

/* A line that could not be run. */
static void print_invalid(const char *op, const int64_t *t) {
    print_status_only(op, t, SESH_STATUS_INVALID_ARGUMENT);
}

/* ----- operations ---------------------------------------------------------------------- */

/* Configures the options from the latest `config` line; the first failing setter's status. */
static SeshStatus apply_config(SeshOptions *options) {
    SeshStatus status;
#define SESH_REPLAY_TRY(call)            \
    do {                                  \
        status = (call);                  \
        if (status != SESH_STATUS_OK) {   \
            return status;                \
        }                                 \
    } while (0)
    if (config.has_foreground_timeout) {
        SESH_REPLAY_TRY(sesh_options_set_foreground_timeout(options, config.foreground_timeout));
    }
    if (config.has_background_timeout) {
        SESH_REPLAY_TRY(sesh_options_set_background_timeout(options, config.background_timeout));
    }
    if (config.has_max_duration) {
        SESH_REPLAY_TRY(sesh_options_set_max_duration(options, config.max_duration));
    }
    if (config.has_continue_on_restart) {
        SESH_REPLAY_TRY(sesh_options_set_continue_on_restart(options, config.continue_on_restart));
    }
    if (config.has_anonymous) {
        SESH_REPLAY_TRY(sesh_options_set_anonymous(options, config.anonymous));
    }
    if (config.has_automatic) {
        SESH_REPLAY_TRY(sesh_options_set_automatic(options, config.automatic));
    }
    if (config.has_start_in_background) {
        SESH_REPLAY_TRY(sesh_options_set_start_in_background(options, config.start_in_background));
    }
    if (config.namespace_name != NULL) {
        SESH_REPLAY_TRY(sesh_options_set_namespace(options, config.namespace_name));
    }
    SESH_REPLAY_TRY(sesh_options_set_clock(options, replay_clock, NULL));
    SESH_REPLAY_TRY(sesh_options_set_session_start_callback(options, on_session_start, NULL));
    SESH_REPLAY_TRY(sesh_options_set_session_end_callback(options, on_session_end, NULL));
    SESH_REPLAY_TRY(sesh_options_set_log_callback(options, on_log, NULL));
#undef SESH_REPLAY_TRY
    return SESH_STATUS_OK;
}

/* The custom store: a store written in this program's C through the library's custom-store
 * callbacks (file_store.c), keeping the JSON it is handed in the file `path` so that it
 * survives `kill`. A file that is there but cannot be read as such a store is left alone and
 * the open says "store_error", as the library does for a damaged SQLite file. On success the
 * options own the store; sesh destroys it once they and the handle no longer use it. */
static SeshStatus attach_custom_store(SeshOptions *options, const char *path) {
    SeshCustomStore custom;
    if (file_store_open(path, &custom) != 0) {
        fprintf(stderr, "sesh-replay: %s cannot be read as a custom store file\n", path);
        return SESH_STATUS_STORE_ERROR;
    }
    SeshStatus status = sesh_options_set_store_custom(options, &custom);
    if (status != SESH_STATUS_OK) {
        /* Nothing was taken: the store is still ours. */
        custom.destroy(custom.user_data);
    }
    return status;
}

static SeshStatus apply_store(SeshOptions *options) {
    switch (store.kind) {
    case STORE_MEMORY:
        return sesh_options_set_store_memory(options);
    case STORE_SQLITE:
        return sesh_options_set_store_sqlite(options, store.path);
    case STORE_CUSTOM:
        return attach_custom_store(options, store.path);
    }
    return SESH_STATUS_INVALID_ARGUMENT;
}

static void op_open(int64_t t) {
    /* A new open replaces the previous handle: free it (which closes it if still open). */
    sesh_handle_free(handle);
    handle = NULL;

    SeshStatus status = SESH_STATUS_OK;
    SeshOptions *options = NULL;
    if (config.bad || store.bad) {
        status = SESH_STATUS_INVALID_ARGUMENT;
    } else {
        status = sesh_options_new(&options);
        if (status == SESH_STATUS_OK) {
            status = apply_config(options);
        }
        if (status == SESH_STATUS_OK) {
            status = apply_store(options);
        }
        if (status == SESH_STATUS_OK) {
            status = sesh_handle_open(options, &handle);
            if (status != SESH_STATUS_OK) {
                handle = NULL;
            }
        }
        sesh_options_free(options);
    }

    SeshStatus fault = SESH_STATUS_OK;
    if (handle != NULL && sesh_handle_get_last_fault(handle, &fault) != SESH_STATUS_OK) {
        fault = SESH_STATUS_OK;
    }
    line_begin("open", &t, status);
    line_results(NULL, NULL);
    buf_add(&out, ",\"fault\":");
    if (fault == SESH_STATUS_OK) {
        buf_add(&out, "null");
    } else {
        buf_add_status(&out, fault);
    }
    line_end();
}

/* track [EVENT_ID] [ts=MS] */
static void op_track(const char *op, int64_t t, char **args, int nargs) {
    const char *event_id = NULL;
    bool has_ts = false;
    int64_t ts = 0;
    for (int i = 0; i < nargs; i++) {
        if (strncmp(args[i], "ts=", 3) == 0) {
            if (has_ts || !parse_int64(args[i] + 3, &ts)) {
                print_invalid(op, &t);
                return;
            }
            has_ts = true;
        } else {
            if (event_id != NULL) {
                print_invalid(op, &t);
                return;
            }
            event_id = args[i];
        }
    }
    if (handle == NULL) {
        print_result(op, t, SESH_STATUS_CLOSED, NULL, NULL);
        return;
    }
    char *entity = NULL;
    SeshStatus status = has_ts ? sesh_event_track_at(handle, event_id, ts, &entity)
                               : sesh_event_track(handle, event_id, &entity);
    print_result(op, t, status, entity, NULL);
    sesh_string_free(entity);
}

/* background|foreground [EVENT_ID] */
static void op_transition(const char *op, int64_t t, bool to_background, char **args,
                          int nargs) {
    if (nargs > 1) {
        print_invalid(op, &t);
        return;
    }
    if (handle == NULL) {
        print_result(op, t, SESH_STATUS_CLOSED, NULL, NULL);
        return;
    }
    const char *event_id = nargs == 1 ? args[0] : NULL;
    char *event = NULL;
    char *entity = NULL;
    SeshStatus status = to_background
                            ? sesh_app_background(handle, event_id, &event, &entity)
                            : sesh_app_foreground(handle, event_id, &event, &entity);
    print_result(op, t, status, entity, event);
    sesh_string_free(event);
    sesh_string_free(entity);
}

/* An operation on the handle that takes no argument and returns only a status. */
static void op_simple(const char *op, int64_t t, SeshStatus (*call)(SeshHandle *)) {
    SeshStatus status = handle != NULL ? call(handle) : SESH_STATUS_CLOSED;
    print_result(op, t, status, NULL, NULL);
}

static SeshStatus call_anonymous_on(SeshHandle *h) {
    return sesh_anonymous_set(h, true);
}

static SeshStatus call_anonymous_off(SeshHandle *h) {
    return sesh_anonymous_set(h, false);
}

/* A string getter: the JSON string or null, the string freed. */
static SeshStatus get_string(Buf *b, const char *key,
                             SeshStatus (*getter)(SeshHandle *, char **)) {
    char *value = NULL;
    SeshStatus status = getter(handle, &value);
    buf_add(b, ",\"");
    buf_add(b, key);
    buf_add(b, "\":");
    buf_add_json_string_or_null(b, status == SESH_STATUS_OK ? value : NULL);
    sesh_string_free(value);
    return status;
}

static SeshStatus get_index(Buf *b, const char *key,
                            SeshStatus (*getter)(SeshHandle *, int64_t *)) {
    int64_t value = 0;
    SeshStatus status = getter(handle, &value);
    buf_add(b, ",\"");
    buf_add(b, key);
    buf_add(b, "\":");
    if (status == SESH_STATUS_OK) {
        buf_addf(b, "%lld", (long long)value);
    } else {
        buf_add(b, "null");
    }
    return status;
}

static void op_get(int64_t t) {
    static const char *const keys[] = {
        "user_id",          "session_id",       "session_index",  "event_index",
        "previous_session_id", "in_background", "background_index", "foreground_index",
        "first_event_id",   "first_event_timestamp", "last_fault",
    };
    if (handle == NULL) {
        line_begin("get", &t, SESH_STATUS_CLOSED);
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            buf_addf(&out, ",\"%s\":null", keys[i]);
        }
        line_end();
        return;
    }
    /* The fields go to their own buffer: the status comes first on the line but is known
     * only once every getter has answered. "no_session" from a session getter is what a
     * null field says; any other failure becomes the line's status. */
    Buf fields = {0};
    SeshStatus first_failure = SESH_STATUS_OK;
    SeshStatus s;
#define SESH_REPLAY_NOTE(call)                                                        \
    do {                                                                               \
        s = (call);                                                                    \
        if (s != SESH_STATUS_OK && s != SESH_STATUS_NO_SESSION &&                      \
            first_failure == SESH_STATUS_OK) {                                          \
            first_failure = s;                                                         \
        }                                                                              \
    } while (0)
    SESH_REPLAY_NOTE(get_string(&fields, "user_id", sesh_user_get_id));
    SESH_REPLAY_NOTE(get_string(&fields, "session_id", sesh_session_get_id));
    SESH_REPLAY_NOTE(get_index(&fields, "session_index", sesh_session_get_index));
    SESH_REPLAY_NOTE(get_index(&fields, "event_index", sesh_session_get_event_index));
    SESH_REPLAY_NOTE(
        get_string(&fields, "previous_session_id", sesh_session_get_previous_id));

    bool in_background = false;
    SESH_REPLAY_NOTE(sesh_app_get_in_background(handle, &in_background));
    buf_add(&fields, ",\"in_background\":");
    buf_add(&fields, s == SESH_STATUS_OK ? (in_background ? "true" : "false") : "null");

    SESH_REPLAY_NOTE(get_index(&fields, "background_index", sesh_session_get_background_index));
    SESH_REPLAY_NOTE(get_index(&fields, "foreground_index", sesh_session_get_foreground_index));
    SESH_REPLAY_NOTE(get_string(&fields, "first_event_id", sesh_session_get_first_event_id));
    SESH_REPLAY_NOTE(get_string(&fields, "first_event_timestamp",
                                sesh_session_get_first_event_timestamp));

    SeshStatus fault = SESH_STATUS_OK;
    SESH_REPLAY_NOTE(sesh_handle_get_last_fault(handle, &fault));
    buf_add(&fields, ",\"last_fault\":");
    if (s != SESH_STATUS_OK || fault == SESH_STATUS_OK) {
        buf_add(&fields, "null");
    } else {
        buf_add_status(&fields, fault);
    }
#undef SESH_REPLAY_NOTE

    line_begin("get", &t, first_failure);
    if (fields.len > 0) {
        buf_add_n(&out, fields.data, fields.len);
    }
    line_end();
    buf_free(&fields);
}

/* config KEY=VALUE ...: replaces the previous config line. */
static void op_config(char **args, int nargs) {
    config_reset();
    for (int i = 0; i < nargs; i++) {
        char *eq = strchr(args[i], '=');
        if (eq == NULL) {
            config.bad = true;
            continue;
        }
        *eq = '\0';
        const char *key = args[i];
        const char *value = eq + 1;
        bool ok;
        if (strcmp(key, "foreground_timeout") == 0) {
            ok = parse_int64(value, &config.foreground_timeout);
            config.has_foreground_timeout = ok;
        } else if (strcmp(key, "background_timeout") == 0) {
            ok = parse_int64(value, &config.background_timeout);
            config.has_background_timeout = ok;
        } else if (strcmp(key, "max_duration") == 0) {
            ok = parse_int64(value, &config.max_duration);
            config.has_max_duration = ok;
        } else if (strcmp(key, "continue_on_restart") == 0) {
            ok = parse_flag(value, &config.continue_on_restart);
            config.has_continue_on_restart = ok;
        } else if (strcmp(key, "anonymous") == 0) {
            ok = parse_flag(value, &config.anonymous);
            config.has_anonymous = ok;
        } else if (strcmp(key, "automatic") == 0) {
            ok = parse_flag(value, &config.automatic);
            config.has_automatic = ok;
        } else if (strcmp(key, "start_in_background") == 0) {
            ok = parse_flag(value, &config.start_in_background);
            config.has_start_in_background = ok;
        } else if (strcmp(key, "namespace") == 0) {
            /* Any text, even empty: the setter judges it at open. */
            free(config.namespace_name);
            config.namespace_name = copy_string(value);
            ok = true;
        } else {
            ok = false;
        }
        if (!ok) {
            config.bad = true;
        }
    }
}

/* store sqlite PATH | memory | custom PATH */
static void op_store(char **args, int nargs) {
    store_reset();
    if (nargs == 1 && strcmp(args[0], "memory") == 0) {
        store.kind = STORE_MEMORY;
    } else if (nargs == 2 && strcmp(args[0], "sqlite") == 0) {
        store.kind = STORE_SQLITE;
        store.path = copy_string(args[1]);
    } else if (nargs == 2 && strcmp(args[0], "custom") == 0) {
        store.kind = STORE_CUSTOM;
        store.path = copy_string(args[1]);
    } else {
        store.bad = true;
    }
}

/* ----- named processes ------------------------------------------------------------------ */

/* The hidden first argument that makes this program a named process: it then reads lines
 * from stdin (the driver's pipe), runs each with its own handle, and after each line's
 * output (if any) writes an empty line, the acknowledgement the driver waits for. */
#define CHILD_FLAG "--sesh-replay-process"

/* True in a named process: `@NAME` lines are then unknown operations, and `kill` is the
 * driver's to carry out (it never sends one). */
static bool in_child;

/* A NAME: one or more ASCII letters and digits, the n bytes at text. */
static bool valid_proc_name(const char *text, size_t n) {
    if (n == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
            return false;
        }
    }
    return true;
}

/* The next whitespace-separated token from *p: its start, and its length (0 at the end). */
static size_t next_token(const char **p, const char **start) {
    const char *q = *p;
    while (*q != '\0' && is_space(*q)) {
        q++;
    }
    *start = q;
    while (*q != '\0' && !is_space(*q)) {
        q++;
    }
    *p = q;
    return (size_t)(q - *start);
}

static char *copy_n(const char *text, size_t n) {
    char *copy = malloc(n + 1);
    if (copy == NULL) {
        die_oom();
    }
    memcpy(copy, text, n);
    copy[n] = '\0';
    return copy;
}

#ifndef SESH_REPLAY_NO_PROCS

typedef struct {
    char *name;
    pid_t pid;        /* 0: not running */
    int to_child;     /* the write end of the child's stdin */
    FILE *from_child; /* the read end of the child's stdout */
} Proc;

static Proc *procs; /* in the order they were first named */
static size_t proc_count, proc_cap;
/* What to exec for a named process, found before the first line is read: this program's
 * path, or argv[0] (searched in PATH when it names no directory). */
static char *self_path;
static bool self_search_path;
static Buf child_reply; /* one line read back from a child */

static void find_self(const char *argv0) {
    size_t cap = 256;
    for (;;) {
        char *path = malloc(cap);
        if (path == NULL) {
            die_oom();
        }
        ssize_t n = readlink("/proc/self/exe", path, cap);
        if (n > 0 && (size_t)n < cap) {
            path[n] = '\0';
            self_path = path;
            return;
        }
        free(path);
        if (n < 0 || cap >= 65536) {
            break; /* no /proc (not Linux): argv[0] below */
        }
        cap *= 2;
    }
    self_path = copy_string(argv0 != NULL ? argv0 : "sesh-replay");
    self_search_path = strchr(self_path, '/') == NULL;
}

static Proc *find_proc(const char *name, size_t n) {
    for (size_t i = 0; i < proc_count; i++) {
        if (strlen(procs[i].name) == n && memcmp(procs[i].name, name, n) == 0) {
            return &procs[i];
        }
    }
    if (proc_count == proc_cap) {
        size_t cap = proc_cap ? proc_cap * 2 : 4;
        Proc *grown = realloc(procs, cap * sizeof *grown);
        if (grown == NULL) {
            die_oom();
        }
        procs = grown;
        proc_cap = cap;
    }
    Proc *p = &procs[proc_count++];
    p->name = copy_n(name, n);
    p->pid = 0;
    p->to_child = -1;
    p->from_child = NULL;
    return p;
}

static void wait_for(pid_t pid, int *status) {
    int ignored;
    while (waitpid(pid, status != NULL ? status : &ignored, 0) < 0 && errno == EINTR) {
    }
}

/* Closes the driver's ends of p's pipes and reaps it; p is then not running. */
static void proc_reap(Proc *p, int *status) {
    if (p->to_child >= 0) {
        close(p->to_child);
        p->to_child = -1;
    }
    if (p->from_child != NULL) {
        fclose(p->from_child);
        p->from_child = NULL;
    }
    wait_for(p->pid, status);
    p->pid = 0;
}

static void set_cloexec(int fd) {
    int flags = fcntl(fd, F_GETFD);
    if (flags >= 0) {
        fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }
}

/* Starts p as a fresh exec of this program. False when no pipe or process could be made. */
static bool proc_start(Proc *p) {
    static bool sigpipe_ignored;
    if (!sigpipe_ignored) {
        /* A child that died while its pipe is written must not kill the driver. */
        struct sigaction ignore;
        memset(&ignore, 0, sizeof ignore);
        ignore.sa_handler = SIG_IGN;
        sigemptyset(&ignore.sa_mask);
        sigaction(SIGPIPE, &ignore, NULL);
        sigpipe_ignored = true;
    }
    int to[2], from[2];
    if (pipe(to) != 0) {
        return false;
    }
    if (pipe(from) != 0) {
        close(to[0]);
        close(to[1]);
        return false;
    }
    /* Every end closes at exec, so that no other child holds this one's pipes open (which
     * would keep it from seeing the end of its input); dup2 below clears the flag on the
     * child's stdin and stdout. */
    set_cloexec(to[0]);
    set_cloexec(to[1]);
    set_cloexec(from[0]);
    set_cloexec(from[1]);
    char *child_argv[] = {self_path, CHILD_FLAG, p->name, NULL};
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(to[0]);
        close(to[1]);
        close(from[0]);
        close(from[1]);
        return false;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls until exec. */
        struct sigaction dflt;
        memset(&dflt, 0, sizeof dflt);
        dflt.sa_handler = SIG_DFL;
        sigemptyset(&dflt.sa_mask);
        sigaction(SIGPIPE, &dflt, NULL);
        if ((to[0] == 0 ? fcntl(0, F_SETFD, 0) : dup2(to[0], 0)) < 0 ||
            (from[1] == 1 ? fcntl(1, F_SETFD, 0) : dup2(from[1], 1)) < 0) {
            _exit(127);
        }
        if (self_search_path) {
            execvp(self_path, child_argv);
        } else {
            execv(self_path, child_argv);
        }
        static const char failed[] = "sesh-replay: cannot exec a named process\n";
        ssize_t ignored = write(2, failed, sizeof failed - 1);
        (void)ignored;
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    p->pid = pid;
    p->to_child = to[1];
    p->from_child = fdopen(from[0], "r");
    if (p->from_child == NULL) {
        close(from[0]);
        kill(pid, SIGKILL);
        proc_reap(p, NULL);
        return false;
    }
    return true;
}

static bool write_all(int fd, const char *data, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, data, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        data += w;
        n -= (size_t)w;
    }
    return true;
}

/* Reads one line from the child into child_reply (newline included). False at its end. */
static bool read_reply(Proc *p) {
    buf_clear(&child_reply);
    int c;
    while ((c = getc(p->from_child)) != EOF) {
        char byte = (char)c;
        buf_add_n(&child_reply, &byte, 1);
        if (c == '\n') {
            return true;
        }
    }
    return false;
}

/* The process died before it answered: note it, reap it, print the line as "panic". */
static void proc_died(Proc *p, const char *op, int64_t t) {
    int status = 0;
    pid_t pid = p->pid;
    proc_reap(p, &status);
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "sesh-replay: process %s (pid %ld) died at t=%lld: signal %d\n",
                p->name, (long)pid, (long long)t, WTERMSIG(status));
    } else {
        fprintf(stderr, "sesh-replay: process %s (pid %ld) ended at t=%lld: exit status %d\n",
                p->name, (long)pid, (long long)t, WEXITSTATUS(status));
    }
    buf_clear(&callbacks);
    line_proc = p->name;
    print_status_only(op, &t, SESH_STATUS_PANIC);
    line_proc = NULL;
}

/* Hands `message` (one line, newline included) to p, started first when it is not
 * running, and copies its output line, if any, to stdout once it has acknowledged. */
static void proc_run(Proc *p, const char *op, int64_t t, const char *message, size_t n) {
    if (p->pid == 0 && !proc_start(p)) {
        fprintf(stderr, "sesh-replay: cannot start process %s: %s\n", p->name,
                strerror(errno));
        buf_clear(&callbacks);
        line_proc = p->name;
        print_status_only(op, &t, SESH_STATUS_PANIC);
        line_proc = NULL;
        return;
    }
    if (!write_all(p->to_child, message, n)) {
        proc_died(p, op, t);
        return;
    }
    for (;;) {
        if (!read_reply(p)) {
            proc_died(p, op, t);
            return;
        }
        if (strcmp(child_reply.data, "\n") == 0) {
            return; /* the acknowledgement */
        }
        fwrite(child_reply.data, 1, child_reply.len, stdout);
        fflush(stdout);
    }
}

static void proc_kill(Proc *p) {
    if (p->pid != 0) {
        kill(p->pid, SIGKILL);
        proc_reap(p, NULL);
    }
}

/* `T kill`: every named process is killed first. */
static void procs_kill_all(void) {
    for (size_t i = 0; i < proc_count; i++) {
        proc_kill(&procs[i]);
    }
}

/* The end of the input: each running process reads the end of its own, closes its handle
 * and exits; its output is read to the end (it prints nothing more). */
static void procs_close_all(void) {
    for (size_t i = 0; i < proc_count; i++) {
        Proc *p = &procs[i];
        if (p->pid == 0) {
            continue;
        }
        close(p->to_child);
        p->to_child = -1;
        while (read_reply(p)) {
        }
        proc_reap(p, NULL);
    }
}

static void procs_free(void) {
    procs_close_all();
    for (size_t i = 0; i < proc_count; i++) {
        free(procs[i].name);
    }
    free(procs);
    procs = NULL;
    proc_count = proc_cap = 0;
    free(self_path);
    self_path = NULL;
    buf_free(&child_reply);
}

#else /* SESH_REPLAY_NO_PROCS */

static void procs_kill_all(void) {
}

static void procs_free(void) {
}

#endif

/* A line `T @NAME ...` of the driver: runs it in process NAME and returns true, or returns
 * false when the line is no such line (no `@` second token, a NAME that is not letters and
 * digits, an unreadable time), which then runs as an ordinary line. The line is left as
 * it was. */
static bool run_proc_line(const char *line) {
    const char *p = line;
    const char *time_text, *name, *op_text;
    size_t time_len = next_token(&p, &time_text);
    size_t name_len = next_token(&p, &name);
    if (time_len == 0 || name_len == 0 || name[0] != '@' ||
        !valid_proc_name(name + 1, name_len - 1)) {
        return false;
    }
    char *time_copy = copy_n(time_text, time_len);
    int64_t t = 0;
    bool time_ok = parse_int64(time_copy, &t);
    free(time_copy);
    if (!time_ok) {
        return false;
    }
    virtual_now = t;
    const char *rest = p; /* everything after the name: the operation and its arguments */
    size_t op_len = next_token(&p, &op_text);
    const char *after_op;
    bool more = next_token(&p, &after_op) > 0;
    char *op = copy_n(op_text, op_len);
    char *proc_name = copy_n(name + 1, name_len - 1);
    buf_clear(&callbacks);
    if (op_len == 0) {
        line_proc = proc_name;
        print_invalid("", &t);
        line_proc = NULL;
    } else {
#ifndef SESH_REPLAY_NO_PROCS
        Proc *proc = find_proc(name + 1, name_len - 1);
        if (strcmp(op, "kill") == 0 && !more) {
            proc_kill(proc);
        } else {
            /* The process gets the line without its name: "TIME OP ARGS...\n". */
            Buf message = {0};
            buf_add_n(&message, time_text, time_len);
            buf_add(&message, rest);
            if (message.len == 0 || message.data[message.len - 1] != '\n') {
                buf_add(&message, "\n");
            }
            proc_run(proc, op, t, message.data, message.len);
            buf_free(&message);
        }
#else
        (void)rest;
        if (!(strcmp(op, "kill") == 0 && !more)) {
            line_proc = proc_name;
            print_status_only(op, &t, SESH_STATUS_UNSUPPORTED);
            line_proc = NULL;
        }
#endif
    }
    free(op);
    free(proc_name);
    return true;
}

static void cleanup(void) {
    procs_free();
    sesh_handle_free(handle);
    handle = NULL;
    config_reset();
    store_reset();
    buf_free(&callbacks);
    buf_free(&out);
}

/* Runs one line of the scenario. */
static void run_line(char *line) {
    if (!in_child && run_proc_line(line)) {
        return;
    }
    char *tokens[MAX_TOKENS + 1];
    int count = tokenize(line, tokens);
    if (count == 0 || tokens[0][0] == '#') {
        return;
    }
    buf_clear(&callbacks);

    int64_t t = 0;
    if (!parse_int64(tokens[0], &t)) {
        /* No time to run it at: name the operation as well as we can. */
        print_invalid(count > 1 ? tokens[1] : tokens[0], NULL);
        return;
    }
    virtual_now = t;
    if (count < 2) {
        print_invalid("", &t);
        return;
    }
    const char *op = tokens[1];
    if (count > MAX_TOKENS) {
        /* Too many words to be any operation. A config or store line still replaces the
         * previous one, as an unreadable one: the next open says invalid_argument. */
        if (strcmp(op, "config") == 0) {
            config_reset();
            config.bad = true;
        } else if (strcmp(op, "store") == 0) {
            store_reset();
            store.bad = true;
        } else {
            print_invalid(op, &t);
        }
        return;
    }
    char **args = tokens + 2;
    int nargs = count - 2;

    if (strcmp(op, "config") == 0) {
        op_config(args, nargs);
    } else if (strcmp(op, "store") == 0) {
        op_store(args, nargs);
    } else if (strcmp(op, "kill") == 0 && nargs == 0) {
        procs_kill_all();
        fflush(stdout);
        _exit(0);
    } else if (strcmp(op, "track") == 0) {
        op_track(op, t, args, nargs);
    } else if (strcmp(op, "background") == 0) {
        op_transition(op, t, true, args, nargs);
    } else if (strcmp(op, "foreground") == 0) {
        op_transition(op, t, false, args, nargs);
    } else if (strcmp(op, "anonymous") == 0) {
        bool on;
        if (nargs != 1 || !parse_flag(args[0], &on)) {
            print_invalid(op, &t);
        } else {
            op_simple(op, t, on ? call_anonymous_on : call_anonymous_off);
        }
    } else if (nargs != 0) {
        print_invalid(op, &t);
    } else if (strcmp(op, "open") == 0) {
        op_open(t);
    } else if (strcmp(op, "get") == 0) {
        op_get(t);
    } else if (strcmp(op, "close") == 0) {
        op_simple(op, t, sesh_handle_close);
    } else if (strcmp(op, "new_session") == 0) {
        op_simple(op, t, sesh_session_new);
    } else if (strcmp(op, "end_session") == 0) {
        op_simple(op, t, sesh_session_end);
    } else if (strcmp(op, "begin_session") == 0) {
        op_simple(op, t, sesh_session_begin);
    } else if (strcmp(op, "pause") == 0) {
        op_simple(op, t, sesh_session_pause);
    } else if (strcmp(op, "resume") == 0) {
        op_simple(op, t, sesh_session_resume);
    } else if (strcmp(op, "check") == 0) {
        op_simple(op, t, sesh_session_check);
    } else if (strcmp(op, "reset_user") == 0) {
        op_simple(op, t, sesh_user_reset);
    } else {
        print_invalid(op, &t);
    }
}

int main(int argc, char **argv) {
    FILE *input = stdin;
#ifndef SESH_REPLAY_NO_PROCS
    if (argc == 3 && strcmp(argv[1], CHILD_FLAG) == 0 &&
        valid_proc_name(argv[2], strlen(argv[2]))) {
        /* A named process: the driver's lines on stdin, acknowledged one by one. */
        in_child = true;
        line_proc = argv[2];
    } else
#endif
    if (argc > 2 || (argc == 2 && (strcmp(argv[1], "-h") == 0 ||
                                   strcmp(argv[1], "--help") == 0))) {
        fprintf(stderr, "usage: %s [FILE]   (reads the scenario from stdin without FILE)\n",
                argv[0]);
        return argc > 2 ? 2 : 0;
    }
    if (argc == 2 && !in_child && strcmp(argv[1], "-") != 0) {
        input = fopen(argv[1], "r");
        if (input == NULL) {
            fprintf(stderr, "sesh-replay: cannot read %s: %s\n", argv[1], strerror(errno));
            return 1;
        }
    }

#ifndef SESH_REPLAY_NO_PROCS
    if (!in_child) {
        find_self(argv[0]);
    }
#endif

    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, input)) != -1) {
        /* A NUL inside a line would cut it short silently: make it a byte no operation or
         * number takes, so the line is reported as malformed instead. */
        for (ssize_t i = 0; i < n; i++) {
            if (line[i] == '\0') {
                line[i] = '\x01';
            }
        }
        run_line(line);
        if (in_child) {
            /* Done with this line: the driver may go on. */
            fputs("\n", stdout);
            fflush(stdout);
        }
    }
    bool read_error = ferror(input) != 0;
    free(line);
    if (input != stdin) {
        fclose(input);
    }
    cleanup();
    if (read_error) {
        fputs("sesh-replay: error reading the scenario\n", stderr);
        return 1;
    }
    return 0;
}

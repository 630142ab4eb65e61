/*
 * Fuzz target `replay`: the sesh-replay scenario reader, examples/c/sesh-replay.c, compiled
 * as it is into this harness and run on the fuzzer's bytes as its standard input.
 *
 * sesh-replay.c is included below with a few names redirected (its own file is not edited):
 *   - main          -> sesh_replay_main, called with no argument so that it reads stdin,
 *                      which is pointed at the input (fmemopen);
 *   - _exit         -> a longjmp back here (the `kill` operation, and out-of-memory);
 *   - getline       -> getline that remembers its buffer, freed here after a `kill`;
 *   - fwrite        -> for stdout: a check that every line printed is one valid JSON
 *                      object whose statuses are no `panic`, then dropped;
 *   - fprintf/fputs -> for stderr: formatted and dropped (the log callback is chatty);
 *   - sesh_options_set_store_sqlite -> the same call on a file in this harness's own temporary
 *                      directory, whatever path the scenario names (one of 4 names chosen by
 *                      the path's hash, wiped before every input), so that a fuzzed scenario
 *                      never writes outside it.
 * Named processes (`T @NAME OP` lines) would fork and exec this harness: it defines
 * SESH_REPLAY_NO_PROCS, so that sesh-replay.c answers such lines with status "unsupported"
 * (their reading is still fuzzed: the name, the operation, `@NAME kill`).
 * sesh-replay.c uses examples/c/file_store.c for `store custom PATH`: when it does, fuzz/run
 * defines SESH_FUZZ_FILE_STORE and that file is included too, its fopen and rename confined
 * to the same temporary directory (so its reader also meets files sesh's SQLite store wrote).
 */
#define _GNU_SOURCE /* memmem */
#define _POSIX_C_SOURCE 200809L

#include "sesh.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FAIL(...)                                                                          \
    do {                                                                                   \
        fputs("replay: ", stderr);                                                         \
        fprintf(stderr, __VA_ARGS__);                                                      \
        fputc('\n', stderr);                                                               \
        abort();                                                                           \
    } while (0)

/* ----- the temporary directory --------------------------------------------------------- */

static char temp_dir[256];

/* A path in the temporary directory for whatever path the scenario named: one of 4 names
 * by the path's hash (so that two stores may share a file, as two paths may), and a
 * temporary file ("PATH.tmp", the file store's) beside its own file. */
static void confined_path(const char *path, char *out, size_t cap) {
    size_t n = strlen(path);
    bool temporary = n > 4 && strcmp(path + n - 4, ".tmp") == 0;
    if (temporary) {
        n -= 4;
    }
    uint32_t hash = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        hash = (hash ^ (unsigned char)path[i]) * 16777619u;
    }
    snprintf(out, cap, "%s/f%u%s", temp_dir, (unsigned)(hash % 4), temporary ? ".tmp" : "");
}

static void wipe_temp_dir(void) {
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal", ".tmp"};
    char path[320];
    for (int i = 0; i < 4; i++) {
        for (size_t s = 0; s < sizeof suffixes / sizeof suffixes[0]; s++) {
            snprintf(path, sizeof path, "%s/f%d%s", temp_dir, i, suffixes[s]);
            unlink(path);
        }
    }
}

static SeshStatus fuzz_set_store_sqlite(SeshOptions *options, const char *path) {
    /* The library judges the path as given (NULL, not UTF-8, empty), and only then is it
     * replaced: the setter only records it; sesh_handle_open opens the file. */
    SeshStatus status = sesh_options_set_store_sqlite(options, path);
    if (status != SESH_STATUS_OK) {
        return status;
    }
    char confined[320];
    confined_path(path, confined, sizeof confined);
    return sesh_options_set_store_sqlite(options, confined);
}

#ifdef SESH_FUZZ_FILE_STORE
static FILE *fuzz_fopen(const char *path, const char *mode) {
    char confined[320];
    confined_path(path, confined, sizeof confined);
    return fopen(confined, mode);
}

static int fuzz_rename(const char *from, const char *to) {
    char a[320], b[320];
    confined_path(from, a, sizeof a);
    confined_path(to, b, sizeof b);
    return rename(a, b);
}
#endif

/* ----- checking what sesh-replay prints -------------------------------------------------- */

typedef struct {
    const unsigned char *p, *end;
    int depth;
} Json;

static bool json_value(Json *j);

static void json_space(Json *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) {
        j->p++;
    }
}

static bool json_literal(Json *j, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0) {
        return false;
    }
    j->p += n;
    return true;
}

static bool hex(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The length of a valid UTF-8 sequence at p, or 0. */
static size_t utf8_length(const unsigned char *p, const unsigned char *end) {
    unsigned char c = *p;
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        len = 2, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, cp = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < len) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return len;
}

static bool json_string(Json *j) {
    if (j->p >= j->end || *j->p != '"') {
        return false;
    }
    j->p++;
    while (j->p < j->end) {
        unsigned char c = *j->p;
        if (c == '"') {
            j->p++;
            return true;
        }
        if (c < 0x20) {
            return false;
        }
        if (c == '\\') {
            if (j->end - j->p < 2) {
                return false;
            }
            unsigned char e = j->p[1];
            if (e == 'u') {
                if (j->end - j->p < 6 || !hex(j->p[2]) || !hex(j->p[3]) || !hex(j->p[4]) ||
                    !hex(j->p[5])) {
                    return false;
                }
                j->p += 6;
            } else if (strchr("\"\\/bfnrt", e) != NULL && e != '\0') {
                j->p += 2;
            } else {
                return false;
            }
            continue;
        }
        size_t len = utf8_length(j->p, j->end);
        if (len == 0) {
            return false;
        }
        j->p += len;
    }
    return false;
}

static bool json_number(Json *j) {
    const unsigned char *start = j->p;
    if (j->p < j->end && *j->p == '-') {
        j->p++;
    }
    if (j->p >= j->end) {
        return false;
    }
    if (*j->p == '0') {
        j->p++;
    } else if (*j->p >= '1' && *j->p <= '9') {
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
            j->p++;
        }
    } else {
        return false;
    }
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9') {
            return false;
        }
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
            j->p++;
        }
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) {
            j->p++;
        }
        if (j->p >= j->end || *j->p < '0' || *j->p > '9') {
            return false;
        }
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
            j->p++;
        }
    }
    return j->p > start;
}

static bool json_items(Json *j, char close, bool object) {
    j->p++;
    if (++j->depth > 64) {
        return false;
    }
    json_space(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        j->depth--;
        return true;
    }
    for (;;) {
        json_space(j);
        if (object) {
            if (!json_string(j)) {
                return false;
            }
            json_space(j);
            if (j->p >= j->end || *j->p != ':') {
                return false;
            }
            j->p++;
            json_space(j);
        }
        if (!json_value(j)) {
            return false;
        }
        json_space(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == close) {
            j->p++;
            j->depth--;
            return true;
        }
        return false;
    }
}

static bool json_value(Json *j) {
    if (j->p >= j->end) {
        return false;
    }
    switch (*j->p) {
    case '{':
        return json_items(j, '}', true);
    case '[':
        return json_items(j, ']', false);
    case '"':
        return json_string(j);
    case 't':
        return json_literal(j, "true");
    case 'f':
        return json_literal(j, "false");
    case 'n':
        return json_literal(j, "null");
    default:
        return json_number(j);
    }
}

static unsigned long lines_checked;

/* One line as sesh-replay prints it: a JSON object, a newline, and no `panic` status. */
static void check_output_line(const char *text, size_t len) {
    if (len < 3 || text[0] != '{' || text[len - 1] != '\n') {
        FAIL("a line that is no JSON object: %.*s", (int)len, text);
    }
    Json j = {(const unsigned char *)text, (const unsigned char *)text + len - 1, 0};
    if (!json_value(&j) || j.p != j.end) {
        FAIL("a line that is not valid JSON (at byte %ld): %.*s",
             (long)((const char *)j.p - text), (int)len, text);
    }
    if (memchr(text, '\n', len - 1) != NULL) {
        FAIL("a line with a newline inside: %.*s", (int)len, text);
    }
    static const char *const panics[] = {"\"status\":\"panic\"", "\"fault\":\"panic\"",
                                         "\"last_fault\":\"panic\""};
    for (size_t i = 0; i < sizeof panics / sizeof panics[0]; i++) {
        if (memmem(text, len, panics[i], strlen(panics[i])) != NULL) {
            FAIL("sesh answered panic: %.*s", (int)len, text);
        }
    }
    lines_checked++;
}

static size_t fuzz_fwrite(const void *restrict data, size_t size, size_t count,
                          FILE *restrict stream) {
    if (stream == stdout) {
        check_output_line(data, size * count);
        return count;
    }
    return fwrite(data, size, count, stream);
}

static int fuzz_fprintf(FILE *restrict stream, const char *restrict format, ...) {
    va_list args;
    va_start(args, format);
    int n;
    if (stream == stderr) {
        char sink[256];
        n = vsnprintf(sink, sizeof sink, format, args); /* formatted, for the sanitizers */
    } else {
        n = vfprintf(stream, format, args);
    }
    va_end(args);
    return n;
}

static int fuzz_fputs(const char *restrict text, FILE *restrict stream) {
    if (stream == stderr) {
        return 0;
    }
    return fputs(text, stream);
}

/* ----- kill, and the line buffer it leaves behind ---------------------------------------- */

static jmp_buf exit_jump;
static char *line_buffer;

__attribute__((noreturn)) static void fuzz_exit(int status) {
    longjmp(exit_jump, status + 1);
}

static ssize_t fuzz_getline(char **restrict line, size_t *restrict cap, FILE *restrict stream) {
    ssize_t n = getline(line, cap, stream);
    line_buffer = *line;
    return n;
}

/* ----- sesh-replay itself ---------------------------------------------------------------- */

#define SESH_REPLAY_NO_PROCS
#define main sesh_replay_main
#define _exit fuzz_exit
#define getline fuzz_getline
#define fwrite fuzz_fwrite
#define fprintf fuzz_fprintf
#define fputs fuzz_fputs
#define sesh_options_set_store_sqlite fuzz_set_store_sqlite
#include "../examples/c/sesh-replay.c"
#ifdef SESH_FUZZ_FILE_STORE
#define fopen fuzz_fopen
#define rename fuzz_rename
#include "../examples/c/file_store.c"
#undef fopen
#undef rename
#endif
#undef main
#undef _exit
#undef getline
#undef fwrite
#undef fprintf
#undef fputs
#undef sesh_options_set_store_sqlite

/* ----- libFuzzer's entry points ---------------------------------------------------------- */

static void remove_temp_dir(void) {
    wipe_temp_dir();
    rmdir(temp_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(temp_dir, sizeof temp_dir, "%s/sesh-fuzz-replay-XXXXXX", base ? base : "/tmp");
    if (mkdtemp(temp_dir) == NULL) {
        FAIL("cannot make a temporary directory: %s", strerror(errno));
    }
    atexit(remove_temp_dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) {
        return 0;
    }
    wipe_temp_dir();
    FILE *input = fmemopen((void *)data, size, "r");
    if (input == NULL) {
        FAIL("fmemopen: %s", strerror(errno));
    }
    FILE *saved_stdin = stdin;
    stdin = input;
    line_buffer = NULL;
    char arg0[] = "sesh-replay";
    char *argv[] = {arg0, NULL};
    int jumped = setjmp(exit_jump);
    if (jumped == 0) {
        int status = sesh_replay_main(1, argv);
        if (status != 0) {
            FAIL("sesh-replay exited %d on a scenario from memory", status);
        }
    } else {
        /* `kill` (or out of memory): what main would have freed on its way out. */
        if (jumped - 1 != 0) {
            FAIL("sesh-replay called _exit(%d)", jumped - 1);
        }
        free(line_buffer);
        cleanup();
    }
    line_buffer = NULL;
    stdin = saved_stdin;
    fclose(input);
    return 0;
}

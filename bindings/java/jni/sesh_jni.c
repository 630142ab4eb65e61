/*
 * sesh_jni.c: the JNI glue between com.sesh (bindings/java/src/main/java) and the C ABI of
 * include/sesh.h. Built as libsesh_jni.so, linked against the static sesh library (or, for
 * Android packaging, optionally against libsesh.so: see bindings/java/README.md).
 *
 * - The natives of com.sesh.SeshNative are registered in JNI_OnLoad (only JNI_OnLoad and
 *   JNI_OnUnload are exported), which also caches the JavaVM, the classes as global refs and
 *   every method id, so callbacks on any thread never need FindClass.
 * - A Java handle is a pointer to a JniSesh: the SeshHandle and global refs to the clock,
 *   session listener and log listener whose callbacks it gets. They live until
 *   SeshNative.free (called by com.sesh.Sesh once no call uses the handle any more).
 * - A custom store is a JniStore (global refs to the store and the log listener) owned by
 *   sesh: its destroy callback runs exactly once, calls SeshStore.onRelease and deletes the
 *   refs.
 * - Callbacks may run on any thread: a thread the JVM does not know is attached for the
 *   call and detached after it. A Java exception thrown by a callback never crosses into
 *   sesh or back to Java: it is cleared and logged (LogListener, else stderr or logcat).
 * - Strings cross as real UTF-8 both ways (not JNI's modified UTF-8), so namespaces and keys
 *   outside the BMP survive; a Java string with an unpaired surrogate is invalid_utf8.
 */
#include <jni.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sesh.h"

#ifdef __ANDROID__
#include <android/log.h>
#endif

#define CLASS_NATIVE "com/sesh/SeshNative"

/* Keep in step with SeshOptions.java and SeshNative.java. */
#define OPT_UNSET INT64_MIN
enum { STORE_DEFAULT = 0, STORE_MEMORY = 1, STORE_SQLITE = 2, STORE_CUSTOM = 3 };
enum {
  OP_NEW_SESSION = 0,
  OP_BEGIN_SESSION = 1,
  OP_END_SESSION = 2,
  OP_CHECK = 3,
  OP_PAUSE = 4,
  OP_RESUME = 5,
  OP_SET_ANONYMOUS = 6,
  OP_RESET_USER = 7
};
enum {
  STR_USER_ID = 0,
  STR_SESSION_ID = 1,
  STR_PREVIOUS_SESSION_ID = 2,
  STR_FIRST_EVENT_ID = 3,
  STR_FIRST_EVENT_TIMESTAMP = 4,
  STR_ENTITY = 5,
  STR_LAST_ERROR = 6
};
enum {
  NUM_SESSION_INDEX = 0,
  NUM_EVENT_INDEX = 1,
  NUM_BACKGROUND_INDEX = 2,
  NUM_FOREGROUND_INDEX = 3,
  NUM_IN_BACKGROUND = 4,
  NUM_LAST_FAULT = 5
};

/* Android's jni.h declares AttachCurrentThread with JNIEnv **, the JDK's with void **. */
#ifdef __ANDROID__
typedef JNIEnv **AttachEnvPtr;
#else
typedef void **AttachEnvPtr;
#endif

/* ----- what JNI_OnLoad caches ---------------------------------------------------------- */

static JavaVM *g_vm;
static jclass g_string_class;     /* java/lang/String */
static jclass g_exception_class;  /* com/sesh/SeshException */
static jmethodID g_exception_init;
static jmethodID g_object_to_string;
static jmethodID g_clock_now;
static jmethodID g_listener_start;
static jmethodID g_listener_end;
static jmethodID g_log_on_log;
static jmethodID g_store_get;
static jmethodID g_store_set;
static jmethodID g_store_release;

/* ----- per handle and per store --------------------------------------------------------- */

typedef struct {
  SeshHandle *handle;
  jobject clock;    /* global refs, or NULL */
  jobject listener;
  jobject log;
} JniSesh;

typedef struct {
  jobject store; /* global refs; log may be NULL */
  jobject log;
} JniStore;

static JniSesh *from_handle(jlong handle) { return (JniSesh *)(intptr_t)handle; }

/* ----- UTF-8 <-> Java strings ----------------------------------------------------------- */

/* A Java string as NUL-terminated UTF-8; short ones stay on the stack. */
typedef struct {
  char *text; /* NULL for a null Java string */
  size_t length;
  char small[96];
} Utf8;

static void utf8_free(Utf8 *u) {
  if (u->text && u->text != u->small) free(u->text);
  u->text = NULL;
}

enum { CONV_OK = 0, CONV_SURROGATE = 1, CONV_NUL = 2, CONV_JAVA_ERROR = 3 };

/* Encodes `s` (which may be NULL) as UTF-8 into `out`. CONV_SURROGATE: an unpaired
 * surrogate; CONV_NUL: a U+0000 inside (for C strings; the text is still there, with its
 * length, for callers that take lengths); CONV_JAVA_ERROR: an exception is pending. */
static int utf8_from_java(JNIEnv *env, jstring s, Utf8 *out) {
  out->text = NULL;
  out->length = 0;
  if (!s) return CONV_OK;
  jsize n = (*env)->GetStringLength(env, s);
  size_t capacity = (size_t)n * 3 + 1;
  char *buffer = capacity <= sizeof out->small ? out->small : malloc(capacity);
  if (!buffer) {
    jclass oom = (*env)->FindClass(env, "java/lang/OutOfMemoryError");
    if (oom) (*env)->ThrowNew(env, oom, "sesh: no memory for a string");
    return CONV_JAVA_ERROR;
  }
  const jchar *chars = (*env)->GetStringChars(env, s, NULL);
  if (!chars) {
    if (buffer != out->small) free(buffer);
    return CONV_JAVA_ERROR; /* OutOfMemoryError pending */
  }
  int result = CONV_OK;
  size_t at = 0;
  for (jsize i = 0; i < n; i++) {
    uint32_t c = chars[i];
    if (c >= 0xD800 && c <= 0xDBFF && i + 1 < n && chars[i + 1] >= 0xDC00 &&
        chars[i + 1] <= 0xDFFF) {
      c = 0x10000 + ((c - 0xD800) << 10) + (chars[i + 1] - 0xDC00u);
      i++;
    } else if (c >= 0xD800 && c <= 0xDFFF) {
      result = CONV_SURROGATE;
      c = 0xFFFD;
    }
    if (c == 0 && result == CONV_OK) result = CONV_NUL;
    if (c < 0x80) {
      buffer[at++] = (char)c;
    } else if (c < 0x800) {
      buffer[at++] = (char)(0xC0 | (c >> 6));
      buffer[at++] = (char)(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      buffer[at++] = (char)(0xE0 | (c >> 12));
      buffer[at++] = (char)(0x80 | ((c >> 6) & 0x3F));
      buffer[at++] = (char)(0x80 | (c & 0x3F));
    } else {
      buffer[at++] = (char)(0xF0 | (c >> 18));
      buffer[at++] = (char)(0x80 | ((c >> 12) & 0x3F));
      buffer[at++] = (char)(0x80 | ((c >> 6) & 0x3F));
      buffer[at++] = (char)(0x80 | (c & 0x3F));
    }
  }
  (*env)->ReleaseStringChars(env, s, chars);
  buffer[at] = '\0';
  out->text = buffer;
  out->length = at;
  return result;
}

/* A Java string from `length` bytes of UTF-8 (malformed bytes become U+FFFD). NULL with an
 * exception pending when the JVM is out of memory. */
static jstring java_from_utf8_n(JNIEnv *env, const char *text, size_t length) {
  int ascii = 1;
  for (size_t i = 0; i < length; i++) {
    if ((unsigned char)text[i] >= 0x80 || text[i] == '\0') {
      ascii = 0;
      break;
    }
  }
  if (ascii && text[length] == '\0') return (*env)->NewStringUTF(env, text);

  jchar *units = malloc((length + 1) * sizeof(jchar));
  if (!units) {
    jclass oom = (*env)->FindClass(env, "java/lang/OutOfMemoryError");
    if (oom) (*env)->ThrowNew(env, oom, "sesh: no memory for a string");
    return NULL;
  }
  size_t n = 0;
  const unsigned char *p = (const unsigned char *)text;
  size_t i = 0;
  while (i < length) {
    uint32_t c = p[i];
    size_t extra = 0;
    uint32_t min = 0;
    if (c < 0x80) {
      extra = 0;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1, c &= 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, c &= 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, c &= 0x07, min = 0x10000;
    } else {
      units[n++] = 0xFFFD;
      i++;
      continue;
    }
    size_t j = 1;
    for (; j <= extra && i + j < length && (p[i + j] & 0xC0) == 0x80; j++) {
      c = (c << 6) | (p[i + j] & 0x3Fu);
    }
    if (j <= extra || c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
      units[n++] = 0xFFFD;
      i += j;
      continue;
    }
    i += j;
    if (c >= 0x10000) {
      c -= 0x10000;
      units[n++] = (jchar)(0xD800 + (c >> 10));
      units[n++] = (jchar)(0xDC00 + (c & 0x3FF));
    } else {
      units[n++] = (jchar)c;
    }
  }
  jstring result = (*env)->NewString(env, units, (jsize)n);
  free(units);
  return result;
}

static jstring java_from_utf8(JNIEnv *env, const char *text) {
  return text ? java_from_utf8_n(env, text, strlen(text)) : NULL;
}

/* ----- exceptions to Java --------------------------------------------------------------- */

/* Throws com.sesh.SeshException(status, name, detail); detail NULL: the status's message. */
static void throw_sesh(JNIEnv *env, int32_t status, const char *detail) {
  if ((*env)->ExceptionCheck(env)) return;
  const char *name = sesh_status_name(status);
  if (!name) name = "unknown";
  if (!detail) detail = sesh_status_message(status);
  if (!detail) detail = "unknown status";
  jstring jname = java_from_utf8(env, name);
  jstring jdetail = jname ? java_from_utf8(env, detail) : NULL;
  if (jname && jdetail) {
    jobject exception =
        (*env)->NewObject(env, g_exception_class, g_exception_init, (jint)status, jname, jdetail);
    if (exception) {
      (*env)->Throw(env, (jthrowable)exception);
      (*env)->DeleteLocalRef(env, exception);
    }
  }
  if (jname) (*env)->DeleteLocalRef(env, jname);
  if (jdetail) (*env)->DeleteLocalRef(env, jdetail);
}

/* Throws the status of a failed call on `handle`, with the handle's last error message. */
static void throw_handle(JNIEnv *env, SeshHandle *handle, int32_t status) {
  char *message = NULL;
  if (sesh_handle_get_last_error(handle, &message) != SESH_STATUS_OK) message = NULL;
  throw_sesh(env, status, message);
  sesh_string_free(message);
}

/* Throws the status of a failed conversion of a Java string argument. */
static void throw_conversion(JNIEnv *env, int conversion, const char *what) {
  char detail[160];
  if (conversion == CONV_SURROGATE) {
    snprintf(detail, sizeof detail, "%s is not valid UTF-16 (an unpaired surrogate)", what);
    throw_sesh(env, SESH_STATUS_INVALID_UTF8, detail);
  } else if (conversion == CONV_NUL) {
    snprintf(detail, sizeof detail, "%s contains a NUL character", what);
    throw_sesh(env, SESH_STATUS_INVALID_ARGUMENT, detail);
  }
  /* CONV_JAVA_ERROR: the JVM's exception is already pending. */
}

/* ----- threads and exceptions in callbacks ----------------------------------------------- */

/* The calling thread's JNIEnv, attaching the thread when the JVM does not know it
 * (*attached then says to detach it after the callback). NULL when there is none. */
static JNIEnv *env_enter(int *attached) {
  JNIEnv *env = NULL;
  *attached = 0;
  if (!g_vm) return NULL;
  jint rc = (*g_vm)->GetEnv(g_vm, (void **)&env, JNI_VERSION_1_6);
  if (rc == JNI_OK) return env;
  if (rc != JNI_EDETACHED) return NULL;
  JavaVMAttachArgs args;
  args.version = JNI_VERSION_1_6;
  args.name = "sesh-callback";
  args.group = NULL;
  if ((*g_vm)->AttachCurrentThread(g_vm, (AttachEnvPtr)&env, &args) != JNI_OK) return NULL;
  *attached = 1;
  return env;
}

static void env_leave(int attached) {
  if (attached) (*g_vm)->DetachCurrentThread(g_vm);
}

/* Last resort when there is no log listener, or it failed too. */
static void print_fallback(const char *message) {
#ifdef __ANDROID__
  __android_log_print(ANDROID_LOG_ERROR, "sesh", "%s", message);
#else
  fprintf(stderr, "sesh: %s\n", message);
  fflush(stderr);
#endif
}

/* Takes the pending exception (clearing it) and writes its toString() to `out` (its text
 * NULL when even that failed). Returns whether there was one. */
static int take_exception(JNIEnv *env, Utf8 *out) {
  out->text = NULL;
  out->length = 0;
  jthrowable exception = (*env)->ExceptionOccurred(env);
  (*env)->ExceptionClear(env);
  if (!exception) return 0;
  jstring text = (*env)->CallObjectMethod(env, exception, g_object_to_string);
  if ((*env)->ExceptionCheck(env)) {
    (*env)->ExceptionClear(env);
    text = NULL;
  }
  if (text && utf8_from_java(env, text, out) == CONV_JAVA_ERROR) (*env)->ExceptionClear(env);
  if (text) (*env)->DeleteLocalRef(env, text);
  (*env)->DeleteLocalRef(env, exception);
  return 1;
}

/* "<a><b><c>" in a malloc'd string, or NULL. */
static char *concat3(const char *a, const char *b, const char *c) {
  size_t na = strlen(a), nb = strlen(b), nc = strlen(c);
  char *out = malloc(na + nb + nc + 1);
  if (!out) return NULL;
  memcpy(out, a, na);
  memcpy(out + na, b, nb);
  memcpy(out + na + nb, c, nc + 1);
  return out;
}

/* Sends `message` to the log listener (when there is one) at `level`. Never leaves an
 * exception pending. */
static void log_to_java(JNIEnv *env, jobject log, int32_t level, const char *message) {
  if (!log) {
    print_fallback(message);
    return;
  }
  if ((*env)->PushLocalFrame(env, 4) != 0) {
    (*env)->ExceptionClear(env);
    print_fallback(message);
    return;
  }
  jstring jmessage = java_from_utf8(env, message);
  if (jmessage) (*env)->CallVoidMethod(env, log, g_log_on_log, (jint)level, jmessage);
  Utf8 description;
  if (take_exception(env, &description)) {
    char *head = concat3("LogListener.onLog threw ",
                         description.text ? description.text : "an exception", " while logging: ");
    char *text = head ? concat3(head, message, "") : NULL;
    print_fallback(text ? text : message);
    free(text);
    free(head);
    utf8_free(&description);
  }
  (*env)->PopLocalFrame(env, NULL);
}

/* Clears the pending Java exception thrown by `where` and logs it. */
static void report_exception(JNIEnv *env, jobject log, const char *where) {
  Utf8 description;
  if (!take_exception(env, &description)) return;
  char *head = concat3(where, " threw ", description.text ? description.text : "an exception");
  char *message = head ? concat3(head, " (caught and dropped by sesh)", "") : NULL;
  log_to_java(env, log, SESH_LOG_LEVEL_ERROR, message ? message : where);
  free(message);
  free(head);
  utf8_free(&description);
}

/* ----- callbacks sesh calls --------------------------------------------------------------- */

static int64_t clock_callback(void *user_data) {
  JniSesh *s = user_data;
  int attached;
  JNIEnv *env = env_enter(&attached);
  if (!env) return -1;
  /* A JNI call with an exception pending is not allowed; a reading of -1 fails the call
   * (callback_error), which is what a clock that cannot be read should do. */
  int64_t now = -1;
  if (!(*env)->ExceptionCheck(env)) {
    now = (*env)->CallLongMethod(env, s->clock, g_clock_now);
    if ((*env)->ExceptionCheck(env)) {
      report_exception(env, s->log, "Clock.nowMs");
      now = -1;
    }
  }
  env_leave(attached);
  return now;
}

static void session_callback(JniSesh *s, jmethodID method, const char *where, const char *json) {
  int attached;
  JNIEnv *env = env_enter(&attached);
  if (!env) return;
  if (!(*env)->ExceptionCheck(env)) {
    if ((*env)->PushLocalFrame(env, 8) == 0) {
      jstring jjson = java_from_utf8(env, json);
      if (jjson) (*env)->CallVoidMethod(env, s->listener, method, jjson);
      if ((*env)->ExceptionCheck(env)) report_exception(env, s->log, where);
      (*env)->PopLocalFrame(env, NULL);
    } else {
      report_exception(env, s->log, where); /* out of memory: drop it, never hand it on */
    }
  }
  env_leave(attached);
}

static void session_start_callback(void *user_data, const char *json) {
  session_callback(user_data, g_listener_start, "SessionListener.onSessionStart", json);
}

static void session_end_callback(void *user_data, const char *json) {
  session_callback(user_data, g_listener_end, "SessionListener.onSessionEnd", json);
}

static void log_callback(void *user_data, int32_t level, const char *message) {
  JniSesh *s = user_data;
  int attached;
  JNIEnv *env = env_enter(&attached);
  if (!env) {
    print_fallback(message);
    return;
  }
  if (!(*env)->ExceptionCheck(env)) {
    log_to_java(env, s->log, level, message);
  } else {
    print_fallback(message);
  }
  env_leave(attached);
}

static int32_t store_get(void *user_data, const char *key, SeshStoreSink *sink) {
  JniStore *st = user_data;
  int attached;
  JNIEnv *env = env_enter(&attached);
  if (!env) return SESH_STATUS_STORE_ERROR;
  int32_t status = SESH_STATUS_STORE_ERROR;
  if ((*env)->ExceptionCheck(env)) {
    /* never call Java with an exception pending */
  } else if ((*env)->PushLocalFrame(env, 8) != 0) {
    report_exception(env, st->log, "SeshStore.get");
  } else {
    jstring jkey = java_from_utf8(env, key);
    jstring value = NULL;
    if (jkey) value = (*env)->CallObjectMethod(env, st->store, g_store_get, jkey);
    if ((*env)->ExceptionCheck(env)) {
      report_exception(env, st->log, "SeshStore.get");
    } else if (!value) {
      status = SESH_STATUS_OK; /* nothing kept under this key */
    } else {
      Utf8 text;
      int conversion = utf8_from_java(env, value, &text);
      if (conversion == CONV_JAVA_ERROR) {
        report_exception(env, st->log, "SeshStore.get (reading its value)");
      } else if (conversion == CONV_SURROGATE) {
        status = SESH_STATUS_CORRUPT_STATE; /* damaged: not text sesh could have written */
      } else {
        status = sesh_store_sink_write(sink, text.text, text.length);
      }
      utf8_free(&text);
    }
    (*env)->PopLocalFrame(env, NULL);
  }
  env_leave(attached);
  return status;
}

static int32_t store_set(void *user_data, const char *key, const char *value) {
  JniStore *st = user_data;
  int attached;
  JNIEnv *env = env_enter(&attached);
  if (!env) return SESH_STATUS_STORE_ERROR;
  int32_t status = SESH_STATUS_STORE_ERROR;
  if ((*env)->ExceptionCheck(env)) {
    /* never call Java with an exception pending */
  } else if ((*env)->PushLocalFrame(env, 8) != 0) {
    report_exception(env, st->log, "SeshStore.set");
  } else {
    jstring jkey = java_from_utf8(env, key);
    jstring jval = jkey ? java_from_utf8(env, value) : NULL;
    jboolean ok = JNI_FALSE;
    if (jval) ok = (*env)->CallBooleanMethod(env, st->store, g_store_set, jkey, jval);
    if ((*env)->ExceptionCheck(env)) {
      report_exception(env, st->log, "SeshStore.set");
    } else if (ok) {
      status = SESH_STATUS_OK;
    }
    (*env)->PopLocalFrame(env, NULL);
  }
  env_leave(attached);
  return status;
}

/* Runs exactly once (sesh's promise): tells the store, then lets go of it. */
static void store_destroy(void *user_data) {
  JniStore *st = user_data;
  int attached;
  JNIEnv *env = env_enter(&attached);
  if (env) {
    if (!(*env)->ExceptionCheck(env)) {
      (*env)->CallVoidMethod(env, st->store, g_store_release);
      if ((*env)->ExceptionCheck(env)) report_exception(env, st->log, "SeshStore.onRelease");
    }
    (*env)->DeleteGlobalRef(env, st->store);
    if (st->log) (*env)->DeleteGlobalRef(env, st->log);
    env_leave(attached);
  } /* else: no JVM any more; nothing to release the refs to. */
  free(st);
}

/* ----- natives ---------------------------------------------------------------------------- */

static void jni_sesh_free(JNIEnv *env, JniSesh *s) {
  if (!s) return;
  if (s->clock) (*env)->DeleteGlobalRef(env, s->clock);
  if (s->listener) (*env)->DeleteGlobalRef(env, s->listener);
  if (s->log) (*env)->DeleteGlobalRef(env, s->log);
  free(s);
}

/* Throws the options' last error (or the status's message) for a failed setter or open. */
static void throw_options(JNIEnv *env, SeshOptions *options, int32_t status) {
  char *message = NULL;
  if (sesh_options_get_last_error(options, &message) != SESH_STATUS_OK) message = NULL;
  throw_sesh(env, status, message);
  sesh_string_free(message);
}

static jlong JNICALL n_open(JNIEnv *env, jclass cls, jstring ns, jlong foreground_timeout,
                            jlong background_timeout, jlong max_duration, jint continue_on_restart,
                            jint anonymous, jint automatic, jint start_in_background,
                            jint store_kind, jstring sqlite_path, jobject store,
                            jint storage_mechanism, jobject clock, jobject listener,
                            jobject log) {
  (void)cls;
  SeshOptions *options = NULL;
  int32_t status = sesh_options_new(&options);
  if (status != SESH_STATUS_OK) {
    throw_sesh(env, status, NULL);
    return 0;
  }
  JniSesh *s = calloc(1, sizeof *s);
  if (!s) {
    sesh_options_free(options);
    throw_sesh(env, SESH_STATUS_PANIC, "out of memory");
    return 0;
  }

  /* The store first: from here on every way out frees the options, and with them the
   * store (its destroy, and so SeshStore.onRelease, runs once per open, failed or not). */
  if (store_kind == STORE_CUSTOM) {
    if (!store) {
      throw_sesh(env, SESH_STATUS_NULL_ARGUMENT, "the custom store is null");
      goto fail;
    }
    JniStore *st = calloc(1, sizeof *st);
    if (!st) {
      throw_sesh(env, SESH_STATUS_PANIC, "out of memory");
      goto fail;
    }
    st->store = (*env)->NewGlobalRef(env, store);
    st->log = log ? (*env)->NewGlobalRef(env, log) : NULL;
    if (!st->store || (log && !st->log)) {
      store_destroy(st);
      throw_sesh(env, SESH_STATUS_PANIC, "out of JNI global references");
      goto fail;
    }
    SeshCustomStore custom;
    custom.user_data = st;
    custom.storage_mechanism = storage_mechanism;
    custom.get = store_get;
    custom.set = store_set;
    custom.destroy = store_destroy;
    status = sesh_options_set_store_custom(options, &custom);
    if (status != SESH_STATUS_OK) {
      store_destroy(st); /* on failure nothing is taken: it is still ours */
      throw_options(env, options, status);
      goto fail;
    }
  } else if (store_kind == STORE_SQLITE) {
    Utf8 path;
    int conversion = utf8_from_java(env, sqlite_path, &path);
    if (conversion != CONV_OK) {
      throw_conversion(env, conversion, "the SQLite path");
      utf8_free(&path);
      goto fail;
    }
    status = sesh_options_set_store_sqlite(options, path.text);
    utf8_free(&path);
    if (status != SESH_STATUS_OK) {
      throw_options(env, options, status);
      goto fail;
    }
  } else if (store_kind == STORE_MEMORY) {
    status = sesh_options_set_store_memory(options);
    if (status != SESH_STATUS_OK) {
      throw_options(env, options, status);
      goto fail;
    }
  }

  if (ns) {
    Utf8 name;
    int conversion = utf8_from_java(env, ns, &name);
    if (conversion != CONV_OK) {
      throw_conversion(env, conversion, "the namespace");
      utf8_free(&name);
      goto fail;
    }
    status = sesh_options_set_namespace(options, name.text);
    utf8_free(&name);
    if (status != SESH_STATUS_OK) {
      throw_options(env, options, status);
      goto fail;
    }
  }

#define SET_IF(condition, call)            \
  if (condition) {                         \
    status = (call);                       \
    if (status != SESH_STATUS_OK) {        \
      throw_options(env, options, status); \
      goto fail;                           \
    }                                      \
  }
  SET_IF(foreground_timeout != OPT_UNSET,
         sesh_options_set_foreground_timeout(options, foreground_timeout))
  SET_IF(background_timeout != OPT_UNSET,
         sesh_options_set_background_timeout(options, background_timeout))
  SET_IF(max_duration != OPT_UNSET, sesh_options_set_max_duration(options, max_duration))
  SET_IF(continue_on_restart >= 0,
         sesh_options_set_continue_on_restart(options, continue_on_restart != 0))
  SET_IF(anonymous >= 0, sesh_options_set_anonymous(options, anonymous != 0))
  SET_IF(automatic >= 0, sesh_options_set_automatic(options, automatic != 0))
  SET_IF(start_in_background >= 0,
         sesh_options_set_start_in_background(options, start_in_background != 0))
#undef SET_IF

  if (clock) s->clock = (*env)->NewGlobalRef(env, clock);
  if (listener) s->listener = (*env)->NewGlobalRef(env, listener);
  if (log) s->log = (*env)->NewGlobalRef(env, log);
  if ((clock && !s->clock) || (listener && !s->listener) || (log && !s->log)) {
    throw_sesh(env, SESH_STATUS_PANIC, "out of JNI global references");
    goto fail;
  }
  if (s->clock) sesh_options_set_clock(options, clock_callback, s);
  if (s->listener) {
    sesh_options_set_session_start_callback(options, session_start_callback, s);
    sesh_options_set_session_end_callback(options, session_end_callback, s);
  }
  if (s->log) sesh_options_set_log_callback(options, log_callback, s);

  status = sesh_handle_open(options, &s->handle);
  if (status != SESH_STATUS_OK) {
    throw_options(env, options, status);
    goto fail;
  }
  sesh_options_free(options);
  return (jlong)(intptr_t)s;

fail: {
  /* Freeing the options drops the custom store (no handle holds it): onRelease runs here.
   * Java may not be called with the exception pending, so hold it meanwhile. */
  jthrowable pending = (*env)->ExceptionOccurred(env);
  if (pending) (*env)->ExceptionClear(env);
  sesh_options_free(options);
  jni_sesh_free(env, s);
  if (pending) {
    (*env)->Throw(env, pending);
    (*env)->DeleteLocalRef(env, pending);
  }
  return 0;
}
}

static void JNICALL n_close(JNIEnv *env, jclass cls, jlong handle) {
  (void)cls;
  JniSesh *s = from_handle(handle);
  int32_t status = sesh_handle_close(s->handle);
  if (status != SESH_STATUS_OK && status != SESH_STATUS_CLOSED) throw_handle(env, s->handle, status);
}

static void JNICALL n_free(JNIEnv *env, jclass cls, jlong handle) {
  (void)cls;
  JniSesh *s = from_handle(handle);
  /* May run the custom store's destroy (SeshStore.onRelease); no callback of the handle
   * runs after it returns, so its refs can go. */
  sesh_handle_free(s->handle);
  jni_sesh_free(env, s);
}

static jstring JNICALL n_track(JNIEnv *env, jclass cls, jlong handle, jstring event_id,
                               jboolean has_timestamp, jlong timestamp_ms) {
  (void)cls;
  JniSesh *s = from_handle(handle);
  Utf8 id;
  int conversion = utf8_from_java(env, event_id, &id);
  if (conversion != CONV_OK) {
    throw_conversion(env, conversion, "the event id");
    utf8_free(&id);
    return NULL;
  }
  jstring result = NULL;
  int32_t status;
  if (has_timestamp) {
    char *entity = NULL;
    status = sesh_event_track_at(s->handle, id.text, timestamp_ms, &entity);
    if (status == SESH_STATUS_OK) result = java_from_utf8(env, entity);
    sesh_string_free(entity);
  } else {
    /* The allocation-free path: the entity lands in a buffer on this stack. */
    char buffer[SESH_MAX_ENTITY_SIZE];
    size_t length = 0;
    status = sesh_event_track_into(s->handle, id.text, buffer, sizeof buffer, &length);
    if (status == SESH_STATUS_OK) result = java_from_utf8_n(env, buffer, length);
  }
  utf8_free(&id);
  if (status != SESH_STATUS_OK && status != SESH_STATUS_NO_SESSION) throw_handle(env, s->handle, status);
  return result;
}

static jobjectArray JNICALL n_lifecycle(JNIEnv *env, jclass cls, jlong handle,
                                        jboolean background, jstring event_id) {
  (void)cls;
  JniSesh *s = from_handle(handle);
  Utf8 id;
  int conversion = utf8_from_java(env, event_id, &id);
  if (conversion != CONV_OK) {
    throw_conversion(env, conversion, "the event id");
    utf8_free(&id);
    return NULL;
  }
  char *event = NULL;
  char *entity = NULL;
  int32_t status = background ? sesh_app_background(s->handle, id.text, &event, &entity)
                              : sesh_app_foreground(s->handle, id.text, &event, &entity);
  utf8_free(&id);
  jobjectArray result = NULL;
  if ((status == SESH_STATUS_OK || status == SESH_STATUS_NO_SESSION) && event) {
    result = (*env)->NewObjectArray(env, 2, g_string_class, NULL);
    jstring jevent = result ? java_from_utf8(env, event) : NULL;
    jstring jentity = jevent && entity ? java_from_utf8(env, entity) : NULL;
    if (jevent) (*env)->SetObjectArrayElement(env, result, 0, jevent);
    if (jentity) (*env)->SetObjectArrayElement(env, result, 1, jentity);
    if (jevent) (*env)->DeleteLocalRef(env, jevent);
    if (jentity) (*env)->DeleteLocalRef(env, jentity);
  } else if (status != SESH_STATUS_OK && status != SESH_STATUS_NO_SESSION) {
    throw_handle(env, s->handle, status);
  }
  sesh_string_free(event);
  sesh_string_free(entity);
  return result;
}

static jboolean JNICALL n_control(JNIEnv *env, jclass cls, jlong handle, jint op,
                                  jboolean argument) {
  (void)cls;
  JniSesh *s = from_handle(handle);
  int32_t status;
  switch (op) {
    case OP_NEW_SESSION: status = sesh_session_new(s->handle); break;
    case OP_BEGIN_SESSION: status = sesh_session_begin(s->handle); break;
    case OP_END_SESSION: status = sesh_session_end(s->handle); break;
    case OP_CHECK: status = sesh_session_check(s->handle); break;
    case OP_PAUSE: status = sesh_session_pause(s->handle); break;
    case OP_RESUME: status = sesh_session_resume(s->handle); break;
    case OP_SET_ANONYMOUS: status = sesh_anonymous_set(s->handle, argument != JNI_FALSE); break;
    case OP_RESET_USER: status = sesh_user_reset(s->handle); break;
    default: throw_sesh(env, SESH_STATUS_INVALID_ARGUMENT, "unknown control"); return JNI_FALSE;
  }
  if (status == SESH_STATUS_OK) return JNI_TRUE;
  if (status == SESH_STATUS_NO_SESSION && op == OP_END_SESSION) return JNI_FALSE;
  throw_handle(env, s->handle, status);
  return JNI_FALSE;
}

static jstring JNICALL n_get_string(JNIEnv *env, jclass cls, jlong handle, jint which) {
  (void)cls;
  JniSesh *s = from_handle(handle);
  char *text = NULL;
  int32_t status;
  switch (which) {
    case STR_USER_ID: status = sesh_user_get_id(s->handle, &text); break;
    case STR_SESSION_ID: status = sesh_session_get_id(s->handle, &text); break;
    case STR_PREVIOUS_SESSION_ID: status = sesh_session_get_previous_id(s->handle, &text); break;
    case STR_FIRST_EVENT_ID: status = sesh_session_get_first_event_id(s->handle, &text); break;
    case STR_FIRST_EVENT_TIMESTAMP:
      status = sesh_session_get_first_event_timestamp(s->handle, &text);
      break;
    case STR_ENTITY: status = sesh_session_get_entity(s->handle, &text); break;
    case STR_LAST_ERROR: status = sesh_handle_get_last_error(s->handle, &text); break;
    default: throw_sesh(env, SESH_STATUS_INVALID_ARGUMENT, "unknown getter"); return NULL;
  }
  jstring result = NULL;
  if (status == SESH_STATUS_OK) {
    result = java_from_utf8(env, text); /* NULL text: null */
  } else if (status != SESH_STATUS_NO_SESSION) {
    throw_handle(env, s->handle, status);
  }
  sesh_string_free(text);
  return result;
}

static jlong JNICALL n_get_long(JNIEnv *env, jclass cls, jlong handle, jint which) {
  (void)cls;
  JniSesh *s = from_handle(handle);
  int64_t value = -1;
  int32_t status;
  switch (which) {
    case NUM_SESSION_INDEX: status = sesh_session_get_index(s->handle, &value); break;
    case NUM_EVENT_INDEX: status = sesh_session_get_event_index(s->handle, &value); break;
    case NUM_BACKGROUND_INDEX: status = sesh_session_get_background_index(s->handle, &value); break;
    case NUM_FOREGROUND_INDEX: status = sesh_session_get_foreground_index(s->handle, &value); break;
    case NUM_IN_BACKGROUND: {
      bool in_background = false;
      status = sesh_app_get_in_background(s->handle, &in_background);
      value = in_background ? 1 : 0;
      break;
    }
    case NUM_LAST_FAULT: {
      SeshStatus fault = SESH_STATUS_OK;
      status = sesh_handle_get_last_fault(s->handle, &fault);
      value = (int64_t)fault;
      break;
    }
    default: throw_sesh(env, SESH_STATUS_INVALID_ARGUMENT, "unknown getter"); return -1;
  }
  if (status == SESH_STATUS_OK) return (jlong)value;
  if (status == SESH_STATUS_NO_SESSION) return -1;
  throw_handle(env, s->handle, status);
  return -1;
}

static jstring JNICALL n_version(JNIEnv *env, jclass cls) {
  (void)cls;
  return java_from_utf8(env, sesh_version());
}

static jstring JNICALL n_status_name(JNIEnv *env, jclass cls, jint status) {
  (void)cls;
  return java_from_utf8(env, sesh_status_name(status));
}

static jstring JNICALL n_status_message(JNIEnv *env, jclass cls, jint status) {
  (void)cls;
  return java_from_utf8(env, sesh_status_message(status));
}

/* ----- test hooks ------------------------------------------------------------------------ */

#ifdef SESH_JNI_TEST_HOOKS
/* Built only into libsesh_jni_testhooks.so, for SeshTest: sesh calls made on a thread the
 * JVM has never seen, so that every callback (clock, listener, store, log) has to attach
 * the thread and detach it again. */
#include <pthread.h>

typedef struct {
  JniSesh *s;
  int32_t status;
  char entity[SESH_MAX_ENTITY_SIZE];
} NativeThreadCall;

static void *native_thread_main(void *arg) {
  NativeThreadCall *call = arg;
  size_t length = 0;
  call->status = sesh_session_new(call->s->handle);
  if (call->status == SESH_STATUS_OK) {
    call->status = sesh_event_track_into(call->s->handle, NULL, call->entity, sizeof call->entity,
                                         &length);
  }
  return NULL;
}

static jstring JNICALL n_track_on_native_thread(JNIEnv *env, jclass cls, jlong handle) {
  (void)cls;
  NativeThreadCall call;
  memset(&call, 0, sizeof call);
  call.s = from_handle(handle);
  pthread_t thread;
  if (pthread_create(&thread, NULL, native_thread_main, &call) != 0) {
    throw_sesh(env, SESH_STATUS_PANIC, "pthread_create failed");
    return NULL;
  }
  pthread_join(thread, NULL);
  if (call.status != SESH_STATUS_OK) {
    throw_handle(env, call.s->handle, call.status);
    return NULL;
  }
  return java_from_utf8(env, call.entity);
}

static const JNINativeMethod TEST_HOOK_METHODS[] = {
    {"trackOnNativeThread", "(J)Ljava/lang/String;", (void *)n_track_on_native_thread},
};

static int register_test_hooks(JNIEnv *env) {
  jclass hooks = (*env)->FindClass(env, "com/sesh/SeshTestHooks");
  if (!hooks) {
    (*env)->ExceptionClear(env); /* not on the class path: nothing to register */
    return 1;
  }
  jint rc = (*env)->RegisterNatives(env, hooks, TEST_HOOK_METHODS, 1);
  (*env)->DeleteLocalRef(env, hooks);
  return rc == JNI_OK;
}
#endif

/* ----- loading ------------------------------------------------------------------------------ */

#define STRING "Ljava/lang/String;"

static const JNINativeMethod NATIVE_METHODS[] = {
    {"open",
     "(" STRING "JJJIIIII" STRING "Lcom/sesh/SeshStore;ILcom/sesh/Clock;"
     "Lcom/sesh/SessionListener;Lcom/sesh/LogListener;)J",
     (void *)n_open},
    {"close", "(J)V", (void *)n_close},
    {"free", "(J)V", (void *)n_free},
    {"track", "(J" STRING "ZJ)" STRING, (void *)n_track},
    {"lifecycle", "(JZ" STRING ")[" STRING, (void *)n_lifecycle},
    {"control", "(JIZ)Z", (void *)n_control},
    {"getString", "(JI)" STRING, (void *)n_get_string},
    {"getLong", "(JI)J", (void *)n_get_long},
    {"version", "()" STRING, (void *)n_version},
    {"statusName", "(I)" STRING, (void *)n_status_name},
    {"statusMessage", "(I)" STRING, (void *)n_status_message},
};

static jclass global_class(JNIEnv *env, const char *name) {
  jclass local = (*env)->FindClass(env, name);
  if (!local) return NULL;
  jclass global = (*env)->NewGlobalRef(env, local);
  (*env)->DeleteLocalRef(env, local);
  return global;
}

/* An instance method of the class `class_name`, or NULL (exception pending). */
static jmethodID method(JNIEnv *env, const char *class_name, const char *name, const char *sig) {
  jclass cls = (*env)->FindClass(env, class_name);
  if (!cls) return NULL;
  jmethodID id = (*env)->GetMethodID(env, cls, name, sig);
  (*env)->DeleteLocalRef(env, cls);
  return id;
}

JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM *vm, void *reserved) {
  (void)reserved;
  JNIEnv *env = NULL;
  if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_6) != JNI_OK) return JNI_ERR;
  g_vm = vm;
  g_string_class = global_class(env, "java/lang/String");
  if (!g_string_class) return JNI_ERR;
  g_exception_class = global_class(env, "com/sesh/SeshException");
  if (!g_exception_class) return JNI_ERR;
  g_exception_init = (*env)->GetMethodID(env, g_exception_class, "<init>", "(I" STRING STRING ")V");
  if (!g_exception_init) return JNI_ERR;
  if (!(g_object_to_string = method(env, "java/lang/Object", "toString", "()" STRING)) ||
      !(g_clock_now = method(env, "com/sesh/Clock", "nowMs", "()J")) ||
      !(g_listener_start =
            method(env, "com/sesh/SessionListener", "onSessionStart", "(" STRING ")V")) ||
      !(g_listener_end = method(env, "com/sesh/SessionListener", "onSessionEnd", "(" STRING ")V")) ||
      !(g_log_on_log = method(env, "com/sesh/LogListener", "onLog", "(I" STRING ")V")) ||
      !(g_store_get = method(env, "com/sesh/SeshStore", "get", "(" STRING ")" STRING)) ||
      !(g_store_set = method(env, "com/sesh/SeshStore", "set", "(" STRING STRING ")Z")) ||
      !(g_store_release = method(env, "com/sesh/SeshStore", "onRelease", "()V"))) {
    return JNI_ERR;
  }
  jclass native = (*env)->FindClass(env, CLASS_NATIVE);
  if (!native) return JNI_ERR;
  jint rc = (*env)->RegisterNatives(env, native, NATIVE_METHODS,
                                    (jint)(sizeof NATIVE_METHODS / sizeof NATIVE_METHODS[0]));
  (*env)->DeleteLocalRef(env, native);
  if (rc != JNI_OK) return JNI_ERR;
#ifdef SESH_JNI_TEST_HOOKS
  if (!register_test_hooks(env)) return JNI_ERR;
#endif
  return JNI_VERSION_1_6;
}

JNIEXPORT void JNICALL JNI_OnUnload(JavaVM *vm, void *reserved) {
  (void)reserved;
  JNIEnv *env = NULL;
  if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_6) != JNI_OK) return;
  if (g_string_class) (*env)->DeleteGlobalRef(env, g_string_class);
  if (g_exception_class) (*env)->DeleteGlobalRef(env, g_exception_class);
  g_string_class = NULL;
  g_exception_class = NULL;
  g_vm = NULL;
}

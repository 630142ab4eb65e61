/*
 * Writing a custom store for sesh: a complete, commented example.
 *
 * sesh keeps a session going across app restarts by writing a little state to a store: the
 * installation's user id and, per namespace, the current session. Besides its own stores
 * (memory, SQLite) it can use one the host writes in C: a SeshCustomStore, which is user
 * data plus three functions (get, set, destroy). file_store.c is such a store, kept in one
 * file; this program shows how a host plugs it in and that a session survives a restart:
 *
 *   1. make options and hand them the store (sesh_options_set_store_custom);
 *   2. open a handle, track a few events, close it (close writes what is pending);
 *   3. "restart": free everything, read the same file into a new store, open again;
 *   4. track one more event: it belongs to the same session, with the next eventIndex.
 *
 *     sesh-custom-store [FILE]      (default: custom-store-example.dat, removed first)
 *
 * Exit status 0 when the session went on across the restart, 1 otherwise.
 */
#include "file_store.h"

#include <sesh.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* sesh never prints: faults (a failing store, unreadable state) come to this callback. */
static void on_log(void *user_data, int32_t level, const char *message) {
    (void)user_data;
    fprintf(stderr, "sesh log (level %d): %s\n", (int)level, message);
}

static void on_session_start(void *user_data, const char *entity_json) {
    (void)user_data;
    printf("  session started: %s\n", entity_json);
}

static void on_session_end(void *user_data, const char *summary_json) {
    (void)user_data;
    printf("  session ended:   %s\n", summary_json);
}

static int failed(SeshStatus status, const char *what) {
    if (status == SESH_STATUS_OK) {
        return 0;
    }
    fprintf(stderr, "%s failed: %s (%s)\n", what, sesh_status_name(status),
            sesh_status_message(status));
    return 1;
}

/*
 * What one run of an app does at launch: make options, give them a store read from the
 * file, and open a handle. Returns NULL (and says why) when something fails.
 */
static SeshHandle *open_on_file(const char *path) {
    SeshOptions *options = NULL;
    if (failed(sesh_options_new(&options), "sesh_options_new")) {
        return NULL;
    }
    sesh_options_set_namespace(options, "custom-store-example");
    sesh_options_set_log_callback(options, on_log, NULL);
    sesh_options_set_session_start_callback(options, on_session_start, NULL);
    sesh_options_set_session_end_callback(options, on_session_end, NULL);

    /* The store: file_store_open fills in the SeshCustomStore (user data, get, set,
     * destroy, and the storageMechanism the entity will name). It fails when the file is
     * there but damaged; an app would then pick another store or file, never overwrite it. */
    SeshCustomStore store;
    if (file_store_open(path, &store) != 0) {
        fprintf(stderr, "%s is not a store file this example can read\n", path);
        sesh_options_free(options);
        return NULL;
    }
    /* On success the options own the store: sesh calls store.destroy exactly once, when
     * neither the options nor any handle opened with them use it any more. On failure sesh
     * took nothing, so the store is still ours to destroy. */
    SeshStatus status = sesh_options_set_store_custom(options, &store);
    if (failed(status, "sesh_options_set_store_custom")) {
        store.destroy(store.user_data);
        sesh_options_free(options);
        return NULL;
    }

    /* Opening reads the user id and the namespace's state through store.get. */
    SeshHandle *handle = NULL;
    status = sesh_handle_open(options, &handle);
    /* The handle keeps the store alive; the options can go now. */
    sesh_options_free(options);
    if (failed(status, "sesh_handle_open")) {
        return NULL;
    }
    /* Unreadable state does not fail the open (sesh starts clean); it shows here. */
    SeshStatus fault = SESH_STATUS_OK;
    sesh_handle_get_last_fault(handle, &fault);
    if (fault != SESH_STATUS_OK) {
        fprintf(stderr, "open met a fault: %s\n", sesh_status_name(fault));
    }
    return handle;
}

/* Tracks one event; returns its eventIndex and copies its sessionId (-1 on failure). */
static int64_t track(SeshHandle *handle, char session_id[37]) {
    char *entity = NULL;
    if (failed(sesh_event_track(handle, NULL, &entity), "sesh_event_track")) {
        return -1;
    }
    printf("  event: %s\n", entity);
    sesh_string_free(entity);

    /* The getters read the same values without parsing JSON. */
    char *id = NULL;
    int64_t event_index = -1;
    if (failed(sesh_session_get_id(handle, &id), "sesh_session_get_id") ||
        failed(sesh_session_get_event_index(handle, &event_index),
               "sesh_session_get_event_index")) {
        sesh_string_free(id);
        return -1;
    }
    snprintf(session_id, 37, "%s", id);
    sesh_string_free(id);
    return event_index;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "custom-store-example.dat";
    /* Start from nothing, so that every run of the example shows the same story. */
    remove(path);

    printf("run 1: a fresh store in %s\n", path);
    SeshHandle *handle = open_on_file(path);
    if (handle == NULL) {
        return 1;
    }
    char session_id[37] = "";
    int64_t last_index = -1;
    for (int i = 0; i < 3; i++) {
        last_index = track(handle, session_id);
        if (last_index < 0) {
            sesh_handle_free(handle);
            return 1;
        }
    }
    /* close writes what is pending through store.set; the session does not end. */
    SeshStatus status = sesh_handle_close(handle);
    sesh_handle_free(handle);
    if (failed(status, "sesh_handle_close")) {
        return 1;
    }

    printf("run 2: the app starts again on the same file\n");
    handle = open_on_file(path);
    if (handle == NULL) {
        return 1;
    }
    char reopened_id[37] = "";
    int64_t next_index = track(handle, reopened_id);
    sesh_handle_close(handle);
    sesh_handle_free(handle);

    if (strcmp(reopened_id, session_id) != 0 || next_index != last_index + 1) {
        fprintf(stderr,
                "the session did not go on: it was %s at eventIndex %" PRId64
                ", after the restart %s at eventIndex %" PRId64 "\n",
                session_id, last_index, reopened_id, next_index);
        return 1;
    }
    printf("the session %s went on after the restart: eventIndex %" PRId64 " -> %" PRId64
           "\n",
           session_id, last_index, next_index);
    return 0;
}

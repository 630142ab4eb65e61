/*
 * A small host of sesh: what an analytics tracker does with it.
 *
 * It opens a handle on the memory store, tracks a few events on its own clock, moves the
 * app to background and back, and prints each event's client_session entity and every
 * session start and end the library reports. Build it with the project's CMake; run it
 * with no arguments.
 */
#include <sesh.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* The host's clock: a real tracker leaves the clock unset (sesh uses the system clock);
 * this example drives time itself so that a timeout happens without waiting. */
static int64_t example_now_ms = 1700000000000;

static int64_t example_clock(void *user_data) {
    (void)user_data;
    return example_now_ms;
}

static void on_session_start(void *user_data, const char *entity_json) {
    const char *who = user_data;
    printf("[%s] session started: %s\n", who, entity_json);
}

static void on_session_end(void *user_data, const char *summary_json) {
    const char *who = user_data;
    printf("[%s] session ended:   %s\n", who, summary_json);
}

/* Stops the example with a message when a call fails. */
static void expect_ok(SeshStatus status, const char *what) {
    if (status != SESH_STATUS_OK) {
        fprintf(stderr, "%s failed: %s (%s)\n", what, sesh_status_name(status),
                sesh_status_message(status));
        exit(1);
    }
}

/* Tracks one event and prints its entity; the entity is ours to free. */
static void track(SeshHandle *handle, const char *label) {
    char *entity = NULL;
    expect_ok(sesh_event_track(handle, NULL, &entity), "sesh_event_track");
    printf("%-22s %s\n", label, entity);
    sesh_string_free(entity);
}

/* Moves the app to background or foreground and prints the lifecycle event. */
static void move_app(SeshHandle *handle, int to_background) {
    char *event = NULL;
    char *entity = NULL;
    SeshStatus status = to_background ? sesh_app_background(handle, NULL, &event, &entity)
                                      : sesh_app_foreground(handle, NULL, &event, &entity);
    expect_ok(status, to_background ? "sesh_app_background" : "sesh_app_foreground");
    printf("%-22s %s\n", to_background ? "app to background" : "app to foreground",
           event ? event : "(no change)");
    sesh_string_free(event);
    sesh_string_free(entity);
}

int main(void) {
    printf("sesh %s\n", sesh_version());

    SeshOptions *options = NULL;
    expect_ok(sesh_options_new(&options), "sesh_options_new");
    expect_ok(sesh_options_set_namespace(options, "example-tracker"), "namespace");
    expect_ok(sesh_options_set_foreground_timeout(options, 360), "foreground timeout");
    expect_ok(sesh_options_set_background_timeout(options, 15), "background timeout");
    expect_ok(sesh_options_set_clock(options, example_clock, NULL), "clock");
    expect_ok(sesh_options_set_session_start_callback(options, on_session_start, "host"),
              "start callback");
    expect_ok(sesh_options_set_session_end_callback(options, on_session_end, "host"),
              "end callback");

    SeshHandle *handle = NULL;
    expect_ok(sesh_handle_open(options, &handle), "sesh_handle_open");
    /* The handle keeps what it needs: the options can go now. */
    sesh_options_free(options);

    track(handle, "screen view");
    example_now_ms += 3000;
    move_app(handle, 1);
    example_now_ms += 27000; /* 27 s in background: more than the 15 s timeout */
    move_app(handle, 0);     /* so the foreground event opens session 2 */
    track(handle, "click");

    int64_t session_index = 0;
    expect_ok(sesh_session_get_index(handle, &session_index), "sesh_session_get_index");
    printf("now in session %" PRId64 "\n", session_index);

    expect_ok(sesh_handle_close(handle), "sesh_handle_close");
    sesh_handle_free(handle);
    return session_index == 2 ? 0 : 1;
}

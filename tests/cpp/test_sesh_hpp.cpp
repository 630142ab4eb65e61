// The C++ wrapper (include/sesh.hpp) end to end: the seed timeline on an injected clock,
// callbacks (and who owns them when the Options go first), exceptions and their statuses,
// std::optional for "no session", the buffer variant, a custom store written in C++
// (destroyed exactly once; the session goes on across a reopen on the same data), and
// moves of Options and Handle.
#include "sesh.hpp"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace {

int failures = 0;

bool check(bool ok, const char *what, const char *file, int line) {
  if (!ok) {
    std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, what);
    ++failures;
  }
  return ok;
}
#define CHECK(cond) check(static_cast<bool>(cond), #cond, __FILE__, __LINE__)

// Runs `body`, which must throw sesh::Error with `expected`.
template <typename Body>
bool expect_error(SeshStatus expected, Body body, const char *what, const char *file, int line) {
  try {
    body();
  } catch (const sesh::Error &error) {
    bool ok = error.status() == expected && error.what()[0] != '\0';
    if (!ok) {
      std::fprintf(stderr, "%s:%d: %s threw %s (\"%s\"), expected %s\n", file, line, what,
                   error.status_name(), error.what(), sesh::status_name(expected));
      ++failures;
    }
    return ok;
  } catch (...) {
    std::fprintf(stderr, "%s:%d: %s threw something else than sesh::Error\n", file, line, what);
    ++failures;
    return false;
  }
  std::fprintf(stderr, "%s:%d: %s did not throw\n", file, line, what);
  ++failures;
  return false;
}
#define EXPECT_ERROR(status, ...) \
  expect_error(status, [&] { __VA_ARGS__; }, #__VA_ARGS__, __FILE__, __LINE__)

// 2023-11-14T22:13:20.000Z: an ordinary "now".
constexpr std::int64_t T0 = INT64_C(1700000000000);
const std::string EVENT_ID = "6f1c1e5a-3b7d-4c2e-9f0a-1b2c3d4e5f60";

// ----- a little JSON reading: enough for sesh's flat objects ------------------------------

std::optional<std::string> json_raw(const std::string &json, const std::string &key) {
  std::string pattern = "\"" + key + "\":";
  std::size_t at = json.find(pattern);
  if (at == std::string::npos) return std::nullopt;
  at += pattern.size();
  std::size_t end = json.find_first_of(",}", at);
  if (json[at] == '"') end = json.find('"', at + 1) + 1;
  return json.substr(at, end - at);
}

std::int64_t json_int(const std::string &json, const std::string &key) {
  std::optional<std::string> raw = json_raw(json, key);
  return raw && !raw->empty() && raw->front() != '"' && raw->front() != 'n'
             ? std::strtoll(raw->c_str(), nullptr, 10)
             : INT64_MIN;
}

// The string value of `key`; std::nullopt for null or missing.
std::optional<std::string> json_str(const std::string &json, const std::string &key) {
  std::optional<std::string> raw = json_raw(json, key);
  if (!raw || raw->size() < 2 || raw->front() != '"') return std::nullopt;
  return raw->substr(1, raw->size() - 2);
}

// ----- an injected clock and a recorder, shared by the callbacks --------------------------

struct Recorder {
  std::vector<std::string> starts;
  std::vector<std::string> ends;
  std::vector<std::string> logs;
  std::string order;  // 'S' and 'E' as the callbacks ran
};

struct Env {
  std::shared_ptr<std::atomic<std::int64_t>> now =
      std::make_shared<std::atomic<std::int64_t>>(T0);
  std::shared_ptr<Recorder> rec = std::make_shared<Recorder>();

  // Options with the clock and every callback, capturing shared state by shared_ptr only.
  sesh::Options options() const {
    sesh::Options options;
    auto now_ref = now;
    auto rec_ref = rec;
    options.set_clock([now_ref] { return now_ref->load(); })
        .on_session_start([rec_ref](const std::string &json) {
          rec_ref->starts.push_back(json);
          rec_ref->order += 'S';
        })
        .on_session_end([rec_ref](const std::string &json) {
          rec_ref->ends.push_back(json);
          rec_ref->order += 'E';
        })
        .on_log([rec_ref](SeshLogLevel level, const std::string &message) {
          rec_ref->logs.push_back(std::to_string(static_cast<int>(level)) + " " + message);
        });
    return options;
  }
  void at(std::int64_t ms_after_t0) const { now->store(T0 + ms_after_t0); }
};

// ----- the seed timeline (behaviour §4) ---------------------------------------------------

void test_seed_timeline() {
  Env env;
  sesh::Options options = env.options();
  options.set_foreground_timeout(360).set_background_timeout(15);
  sesh::Handle sesh(options);

  CHECK(!sesh.in_background());
  std::optional<std::string> first = sesh.track(EVENT_ID);
  if (!CHECK(first)) return;
  CHECK(first->find("iglu:com.snowplowanalytics.snowplow/client_session/jsonschema/1-0-2") !=
        std::string::npos);
  CHECK(json_int(*first, "sessionIndex") == 1);
  CHECK(json_int(*first, "eventIndex") == 1);
  CHECK(json_str(*first, "firstEventId") == EVENT_ID);
  CHECK(json_str(*first, "firstEventTimestamp") == std::string("2023-11-14T22:13:20.000Z"));
  CHECK(json_str(*first, "userId") == sesh.user_id());
  const std::optional<std::string> session1 = json_str(*first, "sessionId");
  CHECK(sesh.session_id() == session1);
  CHECK(sesh.first_event_id() == EVENT_ID);
  CHECK(sesh.first_event_timestamp() == std::string("2023-11-14T22:13:20.000Z"));
  CHECK(!sesh.previous_session_id());  // none before the first session
  CHECK(sesh.entity() == first);

  env.at(3000);  // 3 s < 360 s: the same session
  sesh::Transition bg = sesh.background();
  CHECK(bg.changed());
  CHECK(bg.event && bg.event->find("application_background") != std::string::npos);
  CHECK(bg.event && json_int(*bg.event, "backgroundIndex") == 1);
  CHECK(bg.entity && json_int(*bg.entity, "sessionIndex") == 1);
  CHECK(bg.entity && json_int(*bg.entity, "eventIndex") == 2);
  CHECK(sesh.in_background());
  CHECK(sesh.background_index() == 1);
  CHECK(sesh.foreground_index() == 0);

  // A second background call changes nothing.
  sesh::Transition again = sesh.background();
  CHECK(!again.changed() && !again.entity);

  env.at(30000);  // 27 s in background > 15 s: session 2
  sesh::Transition fg = sesh.foreground();
  CHECK(fg.event && fg.event->find("application_foreground") != std::string::npos);
  CHECK(fg.event && json_int(*fg.event, "foregroundIndex") == 1);
  CHECK(fg.entity && json_int(*fg.entity, "sessionIndex") == 2);
  CHECK(fg.entity && json_int(*fg.entity, "eventIndex") == 1);
  CHECK(fg.entity && json_str(*fg.entity, "previousSessionId") == session1);
  CHECK(!sesh.in_background());
  CHECK(sesh.session_index() == 2);
  CHECK(sesh.event_index() == 1);
  CHECK(sesh.previous_session_id() == session1);
  CHECK(sesh.background_index() == 0);
  CHECK(sesh.foreground_index() == 1);

  // Callbacks: S (session 1), E (session 1, timeout), S (session 2), in that order.
  CHECK(env.rec->order == "SES");
  if (CHECK(env.rec->ends.size() == 1)) {
    const std::string &end = env.rec->ends[0];
    CHECK(json_str(end, "reason") == std::string("timeout"));
    CHECK(json_str(end, "sessionId") == session1);
    CHECK(json_int(end, "eventCount") == 2);
    CHECK(json_int(end, "durationMs") == 3000);
  }
  if (CHECK(env.rec->starts.size() == 2)) {
    CHECK(json_int(env.rec->starts[0], "sessionIndex") == 1);
    CHECK(json_int(env.rec->starts[1], "sessionIndex") == 2);
  }
  sesh.close();
}

// ----- callbacks: owned for the handle's whole life ------------------------------------------

void test_callbacks_outlive_options() {
  Env env;
  sesh::Handle sesh;
  {
    sesh::Options options = env.options();
    sesh = sesh::Handle(options);
    // Replacing a callback on the options does not touch the handle opened before.
    options.on_session_start([](const std::string &) { std::abort(); });
  }  // the options (and their std::function objects) go first
  CHECK(sesh.track());
  CHECK(env.rec->starts.size() == 1);
  env.at(1800 * 1000 + 1);  // default timeout 1800 s: a new session
  std::optional<std::string> entity = sesh.track();
  CHECK(entity && json_int(*entity, "sessionIndex") == 2);
  CHECK(env.rec->order == "SES");
  CHECK(entity && json_str(*entity, "firstEventTimestamp") ==
                      std::string("2023-11-14T22:43:20.001Z"));  // the injected clock
}

void test_callback_reenters_and_throws() {
  Env env;
  std::vector<std::optional<std::int64_t>> seen;  // outlives the handle whose callback fills it
  sesh::Handle sesh;
  sesh::Options options = env.options();
  // A callback may call sesh again (no lock is held), and an exception it throws stays in
  // the wrapper.
  options.on_session_start([&](const std::string &) { seen.push_back(sesh.session_index()); })
      .on_session_end([](const std::string &) { throw std::runtime_error("ignored"); });
  sesh = sesh::Handle(options);
  CHECK(sesh.track());
  sesh.new_session();  // end (throws inside the callback), then start
  CHECK(seen.size() == 2 && seen[0] == 1 && seen[1] == 2);
  CHECK(sesh.event_index() == 0);
  CHECK(sesh.track() && sesh.event_index() == 1);

  // An empty std::function removes a callback.
  options.on_session_start(nullptr);
  sesh::Handle other(options);
  CHECK(other.track());
  CHECK(seen.size() == 2);
}

void test_clock_exceptions() {
  sesh::Options options;
  bool fail = false;
  options.set_clock([&fail]() -> std::int64_t {
    if (fail) throw std::runtime_error("no time");
    return T0;
  });
  sesh::Handle sesh(options);
  CHECK(sesh.track());
  fail = true;
  EXPECT_ERROR(SESH_STATUS_CALLBACK_ERROR, sesh.track());
  CHECK(sesh.last_fault() == SESH_STATUS_CALLBACK_ERROR);
  fail = false;
  CHECK(sesh.track());
}

// ----- errors -------------------------------------------------------------------------------

void test_errors() {
  Env env;
  sesh::Options options = env.options();
  EXPECT_ERROR(SESH_STATUS_INVALID_ARGUMENT, options.set_foreground_timeout(0));
  CHECK(options.last_error() && !options.last_error()->empty());
  EXPECT_ERROR(SESH_STATUS_INVALID_ARGUMENT, options.set_namespace(""));
  EXPECT_ERROR(SESH_STATUS_INVALID_ARGUMENT, options.set_max_duration(-1));
  EXPECT_ERROR(SESH_STATUS_INVALID_ARGUMENT, options.set_namespace(std::string("a\0b", 3)));
  EXPECT_ERROR(SESH_STATUS_NULL_ARGUMENT, options.set_store(nullptr));

  sesh::Handle sesh(options);
  CHECK(!sesh.last_error());
  EXPECT_ERROR(SESH_STATUS_INVALID_ARGUMENT, sesh.track("not-a-uuid"));
  EXPECT_ERROR(SESH_STATUS_INVALID_ARGUMENT, sesh.track_at(-1));
  EXPECT_ERROR(SESH_STATUS_INVALID_ARGUMENT, sesh.background("nope"));
  CHECK(sesh.last_error() && !sesh.last_error()->empty());
  CHECK(!sesh.session_id());  // nothing was counted

  // The message is sesh's, and the exception is a std::runtime_error.
  try {
    sesh.track("not-a-uuid");
    CHECK(false);
  } catch (const std::runtime_error &error) {
    CHECK(std::string(error.what()) == sesh.last_error());
    const auto *typed = dynamic_cast<const sesh::Error *>(&error);
    CHECK(typed && typed->status() == SESH_STATUS_INVALID_ARGUMENT);
    CHECK(typed && std::string(typed->status_name()) == "invalid_argument");
  }

  // Upper-case ids are accepted and kept lower-case.
  std::optional<std::string> entity = sesh.track("6F1C1E5A-3B7D-4C2E-9F0A-1B2C3D4E5F60");
  CHECK(entity && json_str(*entity, "firstEventId") == EVENT_ID);

  sesh.close();
  EXPECT_ERROR(SESH_STATUS_CLOSED, sesh.track());
  EXPECT_ERROR(SESH_STATUS_CLOSED, sesh.background());
  EXPECT_ERROR(SESH_STATUS_CLOSED, sesh.session_id());
  EXPECT_ERROR(SESH_STATUS_CLOSED, sesh.end_session());
  EXPECT_ERROR(SESH_STATUS_CLOSED, sesh.user_id());
  EXPECT_ERROR(SESH_STATUS_CLOSED, sesh.close());
  CHECK(sesh);  // closed, not freed: the destructor frees it

  // A store that is not SQLite fails the open with the options' message.
  std::FILE *file = std::fopen("not-a-database.db", "wb");
  if (CHECK(file)) {
    std::fputs("this is no SQLite database, and it must stay as it is\n", file);
    std::fclose(file);
    sesh::Options sqlite;
    sqlite.set_store_sqlite("not-a-database.db");
    EXPECT_ERROR(SESH_STATUS_STORE_ERROR, sesh::Handle{sqlite});
    CHECK(sqlite.last_error() && !sqlite.last_error()->empty());
    std::remove("not-a-database.db");
  }
}

// ----- std::optional for "no session" ------------------------------------------------------

void test_no_session_is_optional() {
  Env env;
  // Automatic mode: before the first event the session getters have nothing.
  {
    sesh::Handle sesh(env.options());
    CHECK(!sesh.session_id() && !sesh.session_index() && !sesh.event_index());
    CHECK(!sesh.previous_session_id() && !sesh.background_index() && !sesh.foreground_index());
    CHECK(!sesh.first_event_id() && !sesh.first_event_timestamp() && !sesh.entity());
    CHECK(sesh.user_id().size() == 36);  // always known
    CHECK(!sesh.end_session());          // no session: false, not an exception
    sesh.new_session();                  // a session now, before any event
    CHECK(sesh.session_index() == 1 && sesh.event_index() == 0);
    CHECK(!sesh.first_event_id());
  }
  // Manual mode: events outside a session get no entity.
  Env manual;
  sesh::Options options = manual.options();
  options.set_automatic(false);
  sesh::Handle sesh(options);
  CHECK(!sesh.track());
  CHECK(!sesh.track_at(T0));
  sesh::EntityBuffer buffer{};
  CHECK(!sesh.track_into(buffer));
  sesh::Transition bg = sesh.background();  // the state flips all the same
  CHECK(bg.event && !bg.entity);
  CHECK(bg.event && json_int(*bg.event, "backgroundIndex") == 0);
  CHECK(sesh.in_background());
  sesh.foreground();
  sesh.begin_session();
  CHECK(sesh.session_index() == 1);
  CHECK(sesh.track() && sesh.event_index() == 1);
  CHECK(sesh.end_session());
  CHECK(!sesh.end_session());
  CHECK(!sesh.session_id());
  CHECK(manual.rec->order == "SE");
  CHECK(manual.rec->ends.size() == 1 &&
        json_str(manual.rec->ends[0], "reason") == std::string("manual"));
}

// ----- the buffer variant and the other controls ------------------------------------------

void test_track_into_and_controls() {
  Env env;
  sesh::Handle sesh(env.options());
  sesh::EntityBuffer buffer{};
  std::optional<std::string_view> view = sesh.track_into(buffer, EVENT_ID);
  if (CHECK(view)) {
    CHECK(view->data() == buffer.data());
    CHECK(buffer[view->size()] == '\0');
    CHECK(json_int(std::string(*view), "eventIndex") == 1);
    CHECK(sesh.entity() == std::string(*view));
  }
  view = sesh.track_into(buffer);
  CHECK(view && json_int(std::string(*view), "eventIndex") == 2);
  EXPECT_ERROR(SESH_STATUS_INVALID_ARGUMENT, sesh.track_into(buffer, "bad"));

  std::optional<std::string> entity = sesh.track_at(T0 - 5000);
  CHECK(entity && json_int(*entity, "eventIndex") == 3);

  // pause: no timeout while paused; check() ends a timed-out session once resumed.
  sesh.pause();
  env.at(3600 * 1000);
  CHECK(sesh.track() && sesh.session_index() == 1);
  sesh.check();
  CHECK(sesh.session_index() == 1);
  sesh.resume();
  sesh.check();  // the next event would renew: the session ends now (timeout)
  CHECK(!sesh.session_id());
  CHECK(env.rec->ends.size() == 1 &&
        json_str(env.rec->ends[0], "reason") == std::string("timeout"));

  // anonymous mode hides the user; reset_user gives a new one.
  const std::string user = sesh.user_id();
  sesh.set_anonymous(true);
  CHECK(sesh.user_id() == "00000000-0000-0000-0000-000000000000");
  sesh.set_anonymous(false);
  CHECK(sesh.user_id() == user);
  sesh.reset_user();
  CHECK(sesh.user_id() != user && sesh.user_id().size() == 36);
  CHECK(!sesh.session_id());
  entity = sesh.track();
  CHECK(entity && json_int(*entity, "sessionIndex") == 1);
  CHECK(sesh.last_fault() == SESH_STATUS_OK);
}

// ----- a custom store written in C++ -------------------------------------------------------

using Records = std::map<std::string, std::string>;

struct MapStore : sesh::Store {
  MapStore(std::shared_ptr<Records> records, std::shared_ptr<int> destroyed)
      : records(std::move(records)), destroyed(std::move(destroyed)) {}
  ~MapStore() override { ++*destroyed; }

  std::optional<std::string> get(const std::string &key) override {
    ++gets;
    if (fail_get) throw std::runtime_error("the disk is gone");
    auto found = records->find(key);
    if (found == records->end()) return std::nullopt;
    return found->second;
  }
  bool set(const std::string &key, const std::string &value) override {
    ++sets;
    if (fail_set) return false;
    (*records)[key] = value;
    return true;
  }
  SeshStorageMechanism storage_mechanism() const override {
    return SESH_STORAGE_MECHANISM_COOKIE1;
  }

  std::shared_ptr<Records> records;
  std::shared_ptr<int> destroyed;
  int gets = 0;
  int sets = 0;
  bool fail_get = false;
  bool fail_set = false;
};

void test_custom_store() {
  Env env;
  auto records = std::make_shared<Records>();
  auto destroyed = std::make_shared<int>(0);
  std::optional<std::string> session1;

  {
    sesh::Handle sesh;
    {
      sesh::Options options = env.options();
      options.set_store(std::make_shared<MapStore>(records, destroyed));
      sesh = sesh::Handle(options);
    }
    CHECK(*destroyed == 0);  // the options are gone, the handle still uses the store
    std::optional<std::string> entity = sesh.track(EVENT_ID);
    CHECK(entity && json_str(*entity, "storageMechanism") == std::string("COOKIE_1"));
    session1 = sesh.session_id();
    env.at(1000);
    CHECK(sesh.track() && sesh.event_index() == 2);
    CHECK(records->count("sesh.user_id") == 1);
    CHECK(records->count("sesh.state.default") == 1);
    sesh.close();
    CHECK(*destroyed == 0);
  }
  CHECK(*destroyed == 1);  // destroyed exactly once, with the handle

  // Reopen on the same records (a new Store object): the session goes on.
  {
    env.at(2000);
    sesh::Options options = env.options();
    options.set_store(std::make_unique<MapStore>(records, destroyed));  // unique_ptr too
    sesh::Handle sesh(options);
    CHECK(sesh.session_id() == session1);
    std::optional<std::string> entity = sesh.track();
    CHECK(entity && json_int(*entity, "eventIndex") == 3);
    CHECK(entity && json_int(*entity, "sessionIndex") == 1);
    CHECK(entity && json_str(*entity, "firstEventId") == EVENT_ID);
  }
  CHECK(*destroyed == 2);
  CHECK(env.rec->ends.empty());

  // One Store object given to two Options: destroyed once, after both let go of it.
  {
    auto shared = std::make_shared<MapStore>(records, destroyed);
    sesh::Options a = env.options();
    sesh::Options b = env.options();
    a.set_store(shared);
    b.set_store(shared);
    shared.reset();
    sesh::Handle ha(a);
    CHECK(ha.session_id() == session1);
    a = sesh::Options();  // move-assigning frees the old options
    CHECK(*destroyed == 2);
  }
  CHECK(*destroyed == 3);

  // Giving options another store lets go of the first one at once.
  {
    sesh::Options options;
    options.set_store(std::make_shared<MapStore>(records, destroyed));
    options.set_store(std::make_shared<MapStore>(records, destroyed));
    CHECK(*destroyed == 4);
    options.set_store_memory();
    CHECK(*destroyed == 5);
  }

  // A get that throws: the open succeeds, sesh tracks in memory and reports a store error;
  // a set that answers false is a store error too.
  {
    auto failing = std::make_shared<MapStore>(records, destroyed);
    failing->fail_get = true;
    sesh::Options options = env.options();
    options.set_store(failing);
    sesh::Handle sesh(options);
    CHECK(failing->gets >= 1);
    CHECK(sesh.last_fault() == SESH_STATUS_STORE_ERROR);
    CHECK(sesh.track());
    CHECK(!env.rec->logs.empty());

    auto read_only = std::make_shared<MapStore>(std::make_shared<Records>(), destroyed);
    read_only->fail_set = true;
    sesh::Options options2 = env.options();
    options2.set_store(read_only);
    sesh::Handle sesh2(options2);
    CHECK(sesh2.track());
    CHECK(read_only->sets >= 1);
    CHECK(sesh2.last_fault() == SESH_STATUS_STORE_ERROR);
  }
  CHECK(*destroyed == 7);

  // Damaged state: sesh starts clean, tells the log callback, and keeps the user id.
  {
    auto damaged = std::make_shared<Records>(*records);
    (*damaged)["sesh.state.default"] = "not json";
    env.rec->logs.clear();
    sesh::Options options = env.options();
    options.set_store(std::make_shared<MapStore>(damaged, destroyed));
    sesh::Handle sesh(options);
    CHECK(sesh.last_fault() == SESH_STATUS_CORRUPT_STATE);
    CHECK(!env.rec->logs.empty());
    CHECK(!sesh.session_id());
    CHECK(sesh.user_id() == (*records)["sesh.user_id"]);
  }
  CHECK(*destroyed == 8);
}

// ----- moves ----------------------------------------------------------------------------------

void test_moves() {
  Env env;
  auto records = std::make_shared<Records>();
  auto destroyed = std::make_shared<int>(0);

  sesh::Options options = env.options();
  options.set_store(std::make_shared<MapStore>(records, destroyed));
  sesh::Options moved_options(std::move(options));
  CHECK(!options);  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_ERROR(SESH_STATUS_NULL_ARGUMENT, options.set_foreground_timeout(10));
  EXPECT_ERROR(SESH_STATUS_NULL_ARGUMENT, sesh::Handle{options});

  sesh::Handle first(moved_options);
  CHECK(first.track());
  const std::optional<std::string> id = first.session_id();

  sesh::Handle second(std::move(first));
  CHECK(!first && second);  // NOLINT(bugprone-use-after-move)
  EXPECT_ERROR(SESH_STATUS_NULL_ARGUMENT, first.track());
  EXPECT_ERROR(SESH_STATUS_NULL_ARGUMENT, first.close());
  CHECK(second.session_id() == id);
  CHECK(second.track() && second.event_index() == 2);

  // Handles in a vector: growing it moves them.
  std::vector<sesh::Handle> handles;
  handles.push_back(std::move(second));
  for (int i = 0; i < 4; ++i) {
    sesh::Options other = env.options();
    other.set_namespace("ns" + std::to_string(i));
    handles.emplace_back(other);
  }
  for (sesh::Handle &h : handles) CHECK(h.track());
  CHECK(handles[0].event_index() == 3);
  CHECK(handles[1].session_index() == 1);

  // Move-assigning over an open handle frees it (and lets go of its store).
  moved_options = sesh::Options();
  CHECK(*destroyed == 0);
  handles[0] = std::move(handles[1]);
  CHECK(*destroyed == 1);
  CHECK(handles[0].track() && handles[0].event_index() == 2);
  // Self-move leaves it as it was.
  sesh::Handle &alias = handles[0];
  handles[0] = std::move(alias);
  CHECK(handles[0] && handles[0].event_index() == 2);

  CHECK(std::string(sesh::version()).find('.') != std::string::npos);
  CHECK(std::string(sesh::status_name(SESH_STATUS_NO_SESSION)) == "no_session");
}

}  // namespace

int main() {
  test_seed_timeline();
  test_callbacks_outlive_options();
  test_callback_reenters_and_throws();
  test_clock_exceptions();
  test_errors();
  test_no_session_is_optional();
  test_track_into_and_controls();
  test_custom_store();
  test_moves();
  if (failures) {
    std::fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  std::printf("test_sesh_hpp: all checks passed\n");
  return 0;
}

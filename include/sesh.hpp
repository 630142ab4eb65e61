// sesh.hpp: a header-only C++17 wrapper over the C ABI of sesh.h.
//
// Nothing here adds behaviour: every call forwards to one sesh_* function, and sesh.h stays
// the reference for what each one does. What the wrapper adds is C++ ownership:
//
//   - sesh::Options and sesh::Handle own their C objects (RAII). Both are move-only; a
//     moved-from object is empty (`!handle`), and a call on it throws sesh::Error with
//     SESH_STATUS_NULL_ARGUMENT. ~Handle closes and frees the handle; close() closes it
//     early and reports the result.
//   - Strings sesh returns come back as std::string; the C strings are freed with
//     sesh_string_free before the call returns, also when it throws.
//   - A status other than OK becomes a sesh::Error (a std::runtime_error) carrying the
//     status and the message sesh kept (sesh_handle_get_last_error /
//     sesh_options_get_last_error). The exceptions to that rule are the calls that may
//     legitimately answer SESH_STATUS_NO_SESSION: track in manual mode outside a session
//     and the session getters before a session answer std::nullopt, end_session answers
//     false, and a transition outside a session (manual mode) answers its event without an
//     entity.
//   - Callbacks are std::function objects. Each one is held by a shared_ptr that the
//     Options and every Handle opened with them share, so it lives exactly as long as
//     sesh may call it, whichever of Options and Handle goes first. Setting a callback
//     again on the Options does not change handles opened before.
//   - A custom store is a class derived from sesh::Store, held by shared_ptr. sesh owns a
//     small adapter holding that shared_ptr and deletes it exactly once, in the store's
//     destroy callback, when neither the options nor any handle use the store any more.
//
// Exceptions never cross into sesh: an exception thrown by a callback is caught and
// dropped; by the clock, it makes the call that read the clock fail with
// SESH_STATUS_CALLBACK_ERROR; by a store's get or set, it makes that store call fail (with
// the status of a sesh::Error, else SESH_STATUS_STORE_ERROR).
//
// Threads: as sesh.h says. A Handle may be used from several threads at once (its move
// and destruction excepted); Options are set up on one thread. The clock may be called from
// several threads at once, the session callbacks and the log from whichever thread made the
// call that caused them, and a Store from any thread that calls sesh (one call at a time
// per handle: a Store shared by handles used from several threads must be thread-safe).
//
// Compiles with -std=c++17 -Wall -Wextra -Werror -pedantic. Link with the sesh library
// (static: also -lpthread -ldl -lm).
#ifndef SESH_HPP
#define SESH_HPP

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "sesh.h"

namespace sesh {

// ----- errors ------------------------------------------------------------------------------

// The name sesh-replay prints for a status ("ok", "no_session", ...), or "unknown".
inline const char *status_name(SeshStatus status) noexcept {
  const char *name = sesh_status_name(static_cast<std::int32_t>(status));
  return name ? name : "unknown";
}

// The library's version, e.g. "0.1.0".
inline const char *version() noexcept { return sesh_version(); }

// A call that did not return SESH_STATUS_OK: the status, and what() is sesh's message.
class Error : public std::runtime_error {
 public:
  Error(SeshStatus status, const std::string &message)
      : std::runtime_error(message), status_(status) {}

  SeshStatus status() const noexcept { return status_; }
  const char *status_name() const noexcept { return sesh::status_name(status_); }

 private:
  SeshStatus status_;
};

// ----- callbacks and stores ------------------------------------------------------------------

// "Now" in milliseconds since the Unix epoch (0 ..= 253402300799999).
using ClockFunction = std::function<std::int64_t()>;
// JSON (an entity or a session-end summary); the string is the callback's to keep.
using JsonFunction = std::function<void(const std::string &json)>;
// A log message and its level.
using LogFunction = std::function<void(SeshLogLevel level, const std::string &message)>;

// A store written in C++ (see SeshCustomStore in sesh.h for the keys and values).
class Store {
 public:
  virtual ~Store() = default;

  // The value kept under `key`, or std::nullopt when there is none. Throw to report a
  // failure: a sesh::Error's status (e.g. SESH_STATUS_CORRUPT_STATE for damaged data),
  // SESH_STATUS_STORE_ERROR for anything else.
  virtual std::optional<std::string> get(const std::string &key) = 0;

  // Keeps `value` under `key`, replacing what was there: true when it worked. false, or an
  // exception, is a failure (sesh goes on and writes again later).
  virtual bool set(const std::string &key, const std::string &value) = 0;

  // What the entity's storageMechanism says. Read once, when the store is given to Options.
  virtual SeshStorageMechanism storage_mechanism() const {
    return SESH_STORAGE_MECHANISM_LOCAL_STORAGE;
  }
};

// A buffer for Handle::track_into: room for any entity and its NUL.
using EntityBuffer = std::array<char, SESH_MAX_ENTITY_SIZE>;

// What a background() or foreground() call did.
struct Transition {
  // The lifecycle event JSON (application_background / application_foreground);
  // std::nullopt when the app already was in that state (nothing happened).
  std::optional<std::string> event;
  // Its client_session entity; std::nullopt when nothing happened, or in manual mode
  // outside a session (the state flipped all the same).
  std::optional<std::string> entity;

  bool changed() const noexcept { return event.has_value(); }
};

namespace detail {

struct StringFree {
  void operator()(char *text) const noexcept { sesh_string_free(text); }
};
// A string sesh returned, freed with sesh_string_free.
using CString = std::unique_ptr<char, StringFree>;

inline std::optional<std::string> to_optional(const CString &text) {
  if (!text) return std::nullopt;
  return std::string(text.get());
}

inline std::string fallback_message(SeshStatus status) {
  const char *message = sesh_status_message(static_cast<std::int32_t>(status));
  return message ? message : "unknown sesh status";
}

// sesh reads strings up to their NUL: one inside would cut them short without a word.
inline const char *c_str(const std::string &text, const char *what) {
  if (text.find('\0') != std::string::npos) {
    throw Error(SESH_STATUS_INVALID_ARGUMENT, std::string(what) + " contains a NUL byte");
  }
  return text.c_str();
}

// The callbacks of one Options, shared with every Handle opened with them. Each function
// is immutable once registered: setting a callback again makes a new one.
struct Hooks {
  std::shared_ptr<const ClockFunction> clock;
  std::shared_ptr<const JsonFunction> session_start;
  std::shared_ptr<const JsonFunction> session_end;
  std::shared_ptr<const LogFunction> log;
};

// What sesh owns for a custom store: deleted by sesh_hpp_store_destroy, exactly once.
struct StoreAdapter {
  std::shared_ptr<Store> store;
};

template <typename F>
void *user_data(const std::shared_ptr<const F> &function) noexcept {
  return const_cast<void *>(static_cast<const void *>(function.get()));
}

// A store call that threw: the status of a sesh::Error, else STORE_ERROR.
inline std::int32_t store_failure(const Error &error) noexcept {
  return error.status() == SESH_STATUS_OK ? static_cast<std::int32_t>(SESH_STATUS_STORE_ERROR)
                                          : static_cast<std::int32_t>(error.status());
}

// The trampolines sesh calls: C linkage, and no exception gets out of them.
extern "C" {

inline std::int64_t sesh_hpp_clock(void *user_data) noexcept {
  try {
    return (*static_cast<const ClockFunction *>(user_data))();
  } catch (...) {
    return -1;  // outside the range sesh accepts: the call fails with CALLBACK_ERROR
  }
}

inline void sesh_hpp_json(void *user_data, const char *json) noexcept {
  try {
    (*static_cast<const JsonFunction *>(user_data))(std::string(json ? json : ""));
  } catch (...) {
  }
}

inline void sesh_hpp_log(void *user_data, std::int32_t level, const char *message) noexcept {
  try {
    (*static_cast<const LogFunction *>(user_data))(static_cast<SeshLogLevel>(level),
                                                   std::string(message ? message : ""));
  } catch (...) {
  }
}

inline std::int32_t sesh_hpp_store_get(void *user_data, const char *key,
                                       SeshStoreSink *sink) noexcept {
  try {
    std::optional<std::string> value = static_cast<StoreAdapter *>(user_data)->store->get(key);
    if (!value) return SESH_STATUS_OK;
    return static_cast<std::int32_t>(sesh_store_sink_write(sink, value->data(), value->size()));
  } catch (const Error &error) {
    return store_failure(error);
  } catch (...) {
    return SESH_STATUS_STORE_ERROR;
  }
}

inline std::int32_t sesh_hpp_store_set(void *user_data, const char *key,
                                       const char *value) noexcept {
  try {
    bool ok = static_cast<StoreAdapter *>(user_data)->store->set(key, value);
    return ok ? SESH_STATUS_OK : SESH_STATUS_STORE_ERROR;
  } catch (const Error &error) {
    return store_failure(error);
  } catch (...) {
    return SESH_STATUS_STORE_ERROR;
  }
}

inline void sesh_hpp_store_destroy(void *user_data) noexcept {
  // The Store's destructor runs here when this held the last reference: it must not throw
  // (destructors are noexcept by default).
  delete static_cast<StoreAdapter *>(user_data);
}

}  // extern "C"

}  // namespace detail

class Handle;

// ----- options ---------------------------------------------------------------------------------

// What a handle is opened with (sesh_options_new ... sesh_options_free). Setters return
// *this, so they chain; a refused value throws sesh::Error and changes nothing.
class Options {
 public:
  Options() {
    SeshStatus status = sesh_options_new(&raw_);
    if (status != SESH_STATUS_OK) throw Error(status, detail::fallback_message(status));
  }
  ~Options() { sesh_options_free(raw_); }

  Options(Options &&other) noexcept
      : raw_(std::exchange(other.raw_, nullptr)), hooks_(std::move(other.hooks_)) {}
  Options &operator=(Options &&other) noexcept {
    if (this != &other) {
      sesh_options_free(raw_);
      raw_ = std::exchange(other.raw_, nullptr);
      hooks_ = std::move(other.hooks_);
    }
    return *this;
  }
  Options(const Options &) = delete;
  Options &operator=(const Options &) = delete;

  Options &set_namespace(const std::string &name) {
    return require_ok(sesh_options_set_namespace(raw_, detail::c_str(name, "the namespace")));
  }
  Options &set_foreground_timeout(std::int64_t seconds) {
    return require_ok(sesh_options_set_foreground_timeout(raw_, seconds));
  }
  Options &set_background_timeout(std::int64_t seconds) {
    return require_ok(sesh_options_set_background_timeout(raw_, seconds));
  }
  // 0: no maximum.
  Options &set_max_duration(std::int64_t seconds) {
    return require_ok(sesh_options_set_max_duration(raw_, seconds));
  }
  Options &set_continue_on_restart(bool enabled) {
    return require_ok(sesh_options_set_continue_on_restart(raw_, enabled));
  }
  Options &set_anonymous(bool enabled) {
    return require_ok(sesh_options_set_anonymous(raw_, enabled));
  }
  // false: manual mode.
  Options &set_automatic(bool enabled) {
    return require_ok(sesh_options_set_automatic(raw_, enabled));
  }
  Options &set_start_in_background(bool enabled) {
    return require_ok(sesh_options_set_start_in_background(raw_, enabled));
  }

  Options &set_store_memory() { return require_ok(sesh_options_set_store_memory(raw_)); }
  Options &set_store_sqlite(const std::string &path) {
    return require_ok(sesh_options_set_store_sqlite(raw_, detail::c_str(path, "the store path")));
  }
  // A store written in C++; also takes a std::unique_ptr<Derived>. The options and every
  // handle opened with them share it; its last reference from sesh goes when the options
  // are destroyed (or given another store) and every handle opened with them is destroyed.
  Options &set_store(std::shared_ptr<Store> store) {
    if (!store) throw Error(SESH_STATUS_NULL_ARGUMENT, "the store is null");
    SeshStorageMechanism mechanism = store->storage_mechanism();
    auto adapter = std::make_unique<detail::StoreAdapter>();
    adapter->store = std::move(store);
    SeshCustomStore custom{};
    custom.user_data = adapter.get();
    custom.storage_mechanism = static_cast<std::int32_t>(mechanism);
    custom.get = &detail::sesh_hpp_store_get;
    custom.set = &detail::sesh_hpp_store_set;
    custom.destroy = &detail::sesh_hpp_store_destroy;
    require_ok(sesh_options_set_store_custom(raw_, &custom));
    adapter.release();  // sesh owns it now: sesh_hpp_store_destroy deletes it
    return *this;
  }

  // An empty function restores the default (system clock; no callback).
  Options &set_clock(ClockFunction clock) {
    return set_hook(hooks_.clock, std::move(clock), sesh_options_set_clock,
                    &detail::sesh_hpp_clock);
  }
  Options &on_session_start(JsonFunction callback) {
    return set_hook(hooks_.session_start, std::move(callback),
                    sesh_options_set_session_start_callback, &detail::sesh_hpp_json);
  }
  Options &on_session_end(JsonFunction callback) {
    return set_hook(hooks_.session_end, std::move(callback),
                    sesh_options_set_session_end_callback, &detail::sesh_hpp_json);
  }
  Options &on_log(LogFunction callback) {
    return set_hook(hooks_.log, std::move(callback), sesh_options_set_log_callback,
                    &detail::sesh_hpp_log);
  }

  // Why the last refused setter or open with these options failed, if one did.
  std::optional<std::string> last_error() const {
    char *message = nullptr;
    if (sesh_options_get_last_error(raw_, &message) != SESH_STATUS_OK) return std::nullopt;
    return detail::to_optional(detail::CString(message));
  }

  SeshOptions *raw() const noexcept { return raw_; }
  explicit operator bool() const noexcept { return raw_ != nullptr; }

 private:
  friend class Handle;

  [[noreturn]] void fail(SeshStatus status) const {
    if (!raw_) throw Error(status, "the options are empty (moved from)");
    std::optional<std::string> message = last_error();
    throw Error(status, message && !message->empty() ? *message : detail::fallback_message(status));
  }

  Options &require_ok(SeshStatus status) {
    if (status != SESH_STATUS_OK) fail(status);
    return *this;
  }

  template <typename F, typename Setter, typename Trampoline>
  Options &set_hook(std::shared_ptr<const F> &slot, F function, Setter setter,
                    Trampoline trampoline) {
    if (!function) {
      require_ok(setter(raw_, nullptr, nullptr));
      slot.reset();
      return *this;
    }
    auto held = std::make_shared<const F>(std::move(function));
    require_ok(setter(raw_, trampoline, detail::user_data(held)));
    // Handles opened before keep the function they were opened with (their own reference).
    slot = std::move(held);
    return *this;
  }

  SeshOptions *raw_ = nullptr;
  detail::Hooks hooks_;
};

// ----- handles ---------------------------------------------------------------------------------

// An open namespace (sesh_handle_open ... sesh_handle_free). Thread-safe like SeshHandle,
// except moving and destroying it.
class Handle {
 public:
  // An empty handle: every call throws SESH_STATUS_NULL_ARGUMENT. Assign an open one to it.
  Handle() noexcept = default;

  // Opens the namespace and store the options name. Throws sesh::Error (STORE_ERROR,
  // CALLBACK_ERROR, ...) with the reason the options kept. The options may be destroyed
  // or changed afterwards: the handle keeps what it needs, callbacks included.
  explicit Handle(const Options &options) : hooks_(options.hooks_) {
    SeshStatus status = sesh_handle_open(options.raw_, &raw_);
    if (status != SESH_STATUS_OK) {
      raw_ = nullptr;
      options.fail(status);
    }
  }

  // Closes (writing what is pending) and frees; errors are dropped: call close() to see them.
  ~Handle() { sesh_handle_free(raw_); }

  Handle(Handle &&other) noexcept
      : raw_(std::exchange(other.raw_, nullptr)), hooks_(std::move(other.hooks_)) {}
  Handle &operator=(Handle &&other) noexcept {
    if (this != &other) {
      sesh_handle_free(raw_);  // before its callbacks are released
      raw_ = std::exchange(other.raw_, nullptr);
      hooks_ = std::move(other.hooks_);
    }
    return *this;
  }
  Handle(const Handle &) = delete;
  Handle &operator=(const Handle &) = delete;

  // Writes what is pending and closes: later calls throw SESH_STATUS_CLOSED, a second close
  // included. SESH_STATUS_STORE_ERROR: closed all the same, but the last write failed.
  void close() { require_ok(sesh_handle_close(raw_)); }

  // ----- events: the entity JSON, or std::nullopt in manual mode outside a session ------

  std::optional<std::string> track() { return track_impl(nullptr); }
  std::optional<std::string> track(const std::string &event_id) {
    return track_impl(detail::c_str(event_id, "the event id"));
  }
  // An event with its own timestamp (ms since the epoch), which becomes
  // firstEventTimestamp when the event opens its session.
  std::optional<std::string> track_at(std::int64_t timestamp_ms) {
    return track_at_impl(nullptr, timestamp_ms);
  }
  std::optional<std::string> track_at(const std::string &event_id, std::int64_t timestamp_ms) {
    return track_at_impl(detail::c_str(event_id, "the event id"), timestamp_ms);
  }
  // No allocation on success: the entity is written into `buffer`, and the view points
  // into it (valid until the buffer is reused).
  std::optional<std::string_view> track_into(EntityBuffer &buffer) {
    return track_into_impl(nullptr, buffer);
  }
  std::optional<std::string_view> track_into(EntityBuffer &buffer, const std::string &event_id) {
    return track_into_impl(detail::c_str(event_id, "the event id"), buffer);
  }

  // ----- lifecycle -------------------------------------------------------------------------

  Transition background() { return transition(sesh_app_background, nullptr); }
  Transition background(const std::string &event_id) {
    return transition(sesh_app_background, detail::c_str(event_id, "the event id"));
  }
  Transition foreground() { return transition(sesh_app_foreground, nullptr); }
  Transition foreground(const std::string &event_id) {
    return transition(sesh_app_foreground, detail::c_str(event_id, "the event id"));
  }

  // ----- controls -------------------------------------------------------------------------

  void new_session() { require_ok(sesh_session_new(raw_)); }
  void begin_session() { require_ok(sesh_session_begin(raw_)); }
  // false: there was no session (nothing changed).
  bool end_session() {
    SeshStatus status = sesh_session_end(raw_);
    if (status == SESH_STATUS_NO_SESSION) return false;
    require_ok(status);
    return true;
  }
  // Ends the session exactly when the next event would renew it by a rule (sesh_session_check).
  void check() { require_ok(sesh_session_check(raw_)); }
  void pause() { require_ok(sesh_session_pause(raw_)); }
  void resume() { require_ok(sesh_session_resume(raw_)); }
  void set_anonymous(bool anonymous) { require_ok(sesh_anonymous_set(raw_, anonymous)); }
  void reset_user() { require_ok(sesh_user_reset(raw_)); }

  // ----- getters: std::nullopt when there is no session ----------------------------------

  std::string user_id() const {
    char *out = nullptr;
    SeshStatus status = sesh_user_get_id(raw_, &out);
    detail::CString text(out);
    require_ok(status);
    return std::string(text.get());
  }
  bool in_background() const {
    bool out = false;
    require_ok(sesh_app_get_in_background(raw_, &out));
    return out;
  }
  std::optional<std::string> session_id() const { return session_string(sesh_session_get_id); }
  std::optional<std::int64_t> session_index() const {
    return session_number(sesh_session_get_index);
  }
  std::optional<std::int64_t> event_index() const {
    return session_number(sesh_session_get_event_index);
  }
  // std::nullopt also when the session has no previous one (or in anonymous mode).
  std::optional<std::string> previous_session_id() const {
    return session_string(sesh_session_get_previous_id);
  }
  std::optional<std::int64_t> background_index() const {
    return session_number(sesh_session_get_background_index);
  }
  std::optional<std::int64_t> foreground_index() const {
    return session_number(sesh_session_get_foreground_index);
  }
  // std::nullopt also before the session's first event.
  std::optional<std::string> first_event_id() const {
    return session_string(sesh_session_get_first_event_id);
  }
  std::optional<std::string> first_event_timestamp() const {
    return session_string(sesh_session_get_first_event_timestamp);
  }
  std::optional<std::string> entity() const { return session_string(sesh_session_get_entity); }

  // The last fault the handle met on its own (SESH_STATUS_OK: none).
  SeshStatus last_fault() const {
    SeshStatus out = SESH_STATUS_OK;
    require_ok(sesh_handle_get_last_fault(raw_, &out));
    return out;
  }
  // The message of the last call on this handle that failed, if one did.
  std::optional<std::string> last_error() const {
    char *message = nullptr;
    if (sesh_handle_get_last_error(raw_, &message) != SESH_STATUS_OK) return std::nullopt;
    return detail::to_optional(detail::CString(message));
  }

  SeshHandle *raw() const noexcept { return raw_; }
  explicit operator bool() const noexcept { return raw_ != nullptr; }

 private:
  [[noreturn]] void fail(SeshStatus status) const {
    if (!raw_) throw Error(status, "the handle is empty (moved from, or never opened)");
    std::optional<std::string> message = last_error();
    throw Error(status, message && !message->empty() ? *message : detail::fallback_message(status));
  }

  void require_ok(SeshStatus status) const {
    if (status != SESH_STATUS_OK) fail(status);
  }

  std::optional<std::string> track_impl(const char *event_id) {
    char *out = nullptr;
    SeshStatus status = sesh_event_track(raw_, event_id, &out);
    return event_result(status, detail::CString(out));
  }

  std::optional<std::string> track_at_impl(const char *event_id, std::int64_t timestamp_ms) {
    char *out = nullptr;
    SeshStatus status = sesh_event_track_at(raw_, event_id, timestamp_ms, &out);
    return event_result(status, detail::CString(out));
  }

  std::optional<std::string_view> track_into_impl(const char *event_id, EntityBuffer &buffer) {
    std::size_t length = 0;
    SeshStatus status =
        sesh_event_track_into(raw_, event_id, buffer.data(), buffer.size(), &length);
    if (status == SESH_STATUS_NO_SESSION) return std::nullopt;
    require_ok(status);
    return std::string_view(buffer.data(), length);
  }

  std::optional<std::string> event_result(SeshStatus status, const detail::CString &out) const {
    if (status == SESH_STATUS_NO_SESSION) return std::nullopt;
    require_ok(status);
    return detail::to_optional(out);
  }

  using TransitionFn = SeshStatus (*)(SeshHandle *, const char *, char **, char **);
  Transition transition(TransitionFn function, const char *event_id) {
    char *event = nullptr;
    char *entity = nullptr;
    SeshStatus status = function(raw_, event_id, &event, &entity);
    // NO_SESSION (manual mode outside a session) still hands the event over.
    detail::CString event_text(event);
    detail::CString entity_text(entity);
    if (status != SESH_STATUS_NO_SESSION) require_ok(status);
    return Transition{detail::to_optional(event_text), detail::to_optional(entity_text)};
  }

  std::optional<std::string> session_string(SeshStatus (*getter)(SeshHandle *, char **)) const {
    char *out = nullptr;
    SeshStatus status = getter(raw_, &out);
    detail::CString text(out);
    if (status == SESH_STATUS_NO_SESSION) return std::nullopt;
    require_ok(status);
    return detail::to_optional(text);
  }

  std::optional<std::int64_t> session_number(
      SeshStatus (*getter)(SeshHandle *, std::int64_t *)) const {
    std::int64_t out = 0;
    SeshStatus status = getter(raw_, &out);
    if (status == SESH_STATUS_NO_SESSION) return std::nullopt;
    require_ok(status);
    return out;
  }

  SeshHandle *raw_ = nullptr;
  // Released only after ~Handle (or the move assignment) freed raw_: by then sesh no
  // longer calls them.
  detail::Hooks hooks_;
};

}  // namespace sesh

#endif  // SESH_HPP

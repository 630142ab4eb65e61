// Sesh.swift: a thin Swift wrapper over sesh's C ABI (the Clang module CSesh, that is
// include/sesh.h through bindings/swift/module.modulemap).
//
// NOT COMPILED HERE. sesh is built and tested on Linux, where there is no Swift toolchain:
// this file was written against sesh.h and read over by hand, but no swiftc has ever seen
// it. Expect to fix small things the first time it is built in Xcode. What is tested is the
// C ABI it calls (tests/c, tests/cpp, tests/scenarios, and the Rust tests).
//
// Shape (the same as include/sesh.hpp):
//   - `Sesh(options:)` opens a handle; `deinit` closes and frees it; `close()` closes early.
//   - A status other than OK throws `SeshError`, one case per status, carrying sesh's
//     message. Calls that may legitimately find no session answer nil instead: `track` in
//     manual mode outside a session, the session getters before a session; `endSession`
//     answers false; a transition outside a session (manual mode) answers its event and no
//     entity.
//   - Callbacks are closures. sesh gets an unretained pointer (Unmanaged) to a box holding
//     each closure, and the Sesh object keeps the boxes for as long as the handle lives.
//     The closures are held strongly: capture the Sesh object weakly in them.
//   - A custom store is a class conforming to `SeshStore`. sesh gets a retained pointer to
//     a box holding it and releases it exactly once, in the store's destroy callback.
//   - Strings sesh returns are copied into Swift Strings and freed with sesh_string_free.
//
// Threads: a Sesh may be used from several threads at once (its deinit excepted). The clock
// may be called from several threads at once; the session and log callbacks run on the
// thread whose call caused them, and a store's calls come from any thread that calls sesh.
//
// Status values: with the C dialect Swift imports, `SeshStatus` is a typedef of int32_t, so
// the functions return Int32 and this file compares them with the raw values of sesh.h.

import CSesh

/// A call that did not return OK: one case per `SeshStatus`, with sesh's message.
public enum SeshError: Error, CustomStringConvertible {
    case noSession(message: String)
    case invalidArgument(message: String)
    case nullArgument(message: String)
    case invalidUTF8(message: String)
    case closed(message: String)
    case storeError(message: String)
    case corruptState(message: String)
    case callbackError(message: String)
    case unsupported(message: String)
    case panic(message: String)
    case unknown(code: Int32, message: String)

    public init(code: Int32, message: String) {
        switch code {
        case 1: self = .noSession(message: message)
        case 2: self = .invalidArgument(message: message)
        case 3: self = .nullArgument(message: message)
        case 4: self = .invalidUTF8(message: message)
        case 5: self = .closed(message: message)
        case 6: self = .storeError(message: message)
        case 7: self = .corruptState(message: message)
        case 8: self = .callbackError(message: message)
        case 9: self = .unsupported(message: message)
        case 10: self = .panic(message: message)
        default: self = .unknown(code: code, message: message)
        }
    }

    /// The `SeshStatus` value (SESH_STATUS_*).
    public var code: Int32 {
        switch self {
        case .noSession: return 1
        case .invalidArgument: return 2
        case .nullArgument: return 3
        case .invalidUTF8: return 4
        case .closed: return 5
        case .storeError: return 6
        case .corruptState: return 7
        case .callbackError: return 8
        case .unsupported: return 9
        case .panic: return 10
        case .unknown(let code, _): return code
        }
    }

    public var message: String {
        switch self {
        case .noSession(let m), .invalidArgument(let m), .nullArgument(let m),
             .invalidUTF8(let m), .closed(let m), .storeError(let m), .corruptState(let m),
             .callbackError(let m), .unsupported(let m), .panic(let m):
            return m
        case .unknown(_, let m):
            return m
        }
    }

    /// The status's name as sesh-replay prints it: "no_session", "closed", ...
    public var name: String {
        guard let name = sesh_status_name(code) else { return "unknown" }
        return String(cString: name)
    }

    public var description: String { "\(name): \(message)" }

    /// sesh's sentence for a status.
    static func describe(_ code: Int32) -> String {
        guard let text = sesh_status_message(code) else { return "unknown sesh status \(code)" }
        return String(cString: text)
    }
}

/// A store written in Swift (see SeshCustomStore in sesh.h for the keys and values).
/// Its methods are called from any thread that calls sesh, one call at a time per handle.
public protocol SeshStore: AnyObject {
    /// The value kept under `key`, or nil when there is none. Throw to report a failure:
    /// a `SeshError`'s status (e.g. `.corruptState`), `.storeError` for any other error.
    func get(_ key: String) throws -> String?
    /// Keeps `value` under `key`, replacing what was there: true when it worked.
    func set(_ key: String, _ value: String) -> Bool
    /// What the entity's storageMechanism says (read once, at open).
    var storageMechanism: Sesh.StorageMechanism { get }
}

extension SeshStore {
    public var storageMechanism: Sesh.StorageMechanism { .localStorage }
}

// ----- boxes sesh points at ---------------------------------------------------------------

private final class ClockBox {
    let clock: () -> Int64
    init(_ clock: @escaping () -> Int64) { self.clock = clock }
}

private final class JsonBox {
    let callback: (String) -> Void
    init(_ callback: @escaping (String) -> Void) { self.callback = callback }
}

private final class LogBox {
    let callback: (Sesh.LogLevel, String) -> Void
    init(_ callback: @escaping (Sesh.LogLevel, String) -> Void) { self.callback = callback }
}

private final class StoreBox {
    let store: SeshStore
    init(_ store: SeshStore) { self.store = store }
}

private let statusOK: Int32 = 0
private let statusNoSession: Int32 = 1
private let statusInvalidArgument: Int32 = 2
private let statusStoreError: Int32 = 6

/// Copies a string sesh returned and frees it.
private func take(_ text: UnsafeMutablePointer<CChar>?) -> String? {
    guard let text = text else { return nil }
    defer { sesh_string_free(text) }
    return String(cString: text)
}

/// Calls `body` with `text` as a C string, or NULL for nil. A NUL inside would cut the
/// string short without a word: refused.
private func withOptionalCString<R>(
    _ text: String?, _ body: (UnsafePointer<CChar>?) throws -> R
) throws -> R {
    guard let text = text else { return try body(nil) }
    if text.utf8.contains(0) {
        throw SeshError.invalidArgument(message: "a string argument contains a NUL byte")
    }
    return try text.withCString { try body($0) }
}

// ----- the handle ---------------------------------------------------------------------------

/// An open namespace: one session sequence.
public final class Sesh: @unchecked Sendable {
    public enum LogLevel: Int32 {
        case error = 1, warn = 2, info = 3, debug = 4
    }

    public enum StorageMechanism: Int32 {
        case localStorage = 0, sqlite = 1, cookie1 = 2, cookie3 = 3, flashLSO = 4
    }

    public enum Store {
        /// State lives as long as the handle (the default).
        case memory
        /// An SQLite file, created when missing.
        case sqlite(path: String)
        /// A store written in Swift.
        case custom(SeshStore)
    }

    /// What a handle is opened with; the defaults are sesh's (docs/behaviour.md).
    public struct Options {
        public var namespace = "default"
        /// Whole seconds >= 1.
        public var foregroundTimeout: Int64 = 1800
        public var backgroundTimeout: Int64 = 1800
        /// Whole seconds; 0 for no maximum.
        public var maxDuration: Int64 = 0
        public var continueOnRestart = true
        public var anonymous = false
        /// false: manual mode.
        public var automatic = true
        public var startInBackground = false
        public var store: Store = .memory
        /// "Now" in ms since the epoch; nil for the system clock. May run on several
        /// threads at once.
        public var clock: (() -> Int64)?
        /// The client_session entity JSON when a session starts.
        public var onSessionStart: ((String) -> Void)?
        /// The session-end summary JSON when a session ends.
        public var onSessionEnd: ((String) -> Void)?
        public var onLog: ((LogLevel, String) -> Void)?

        public init() {}
    }

    /// What `background()` / `foreground()` did.
    public struct Transition {
        /// The lifecycle event JSON; nil when the app already was in that state.
        public let event: String?
        /// Its entity; nil when nothing happened, or in manual mode outside a session.
        public let entity: String?
        public var changed: Bool { event != nil }
    }

    private var handle: OpaquePointer?
    /// The closures sesh may call, kept for as long as the handle.
    private var callbacks: [AnyObject] = []

    /// Opens the namespace and store `options` name. Throws `SeshError` (`.storeError`,
    /// `.invalidArgument`, ...) with the reason sesh gives.
    public init(options: Options = Options()) throws {
        var created: OpaquePointer?
        let status = sesh_options_new(&created)
        guard status == statusOK, let raw = created else {
            throw SeshError(code: status, message: SeshError.describe(status))
        }
        defer { sesh_options_free(raw) }

        func check(_ status: Int32) throws {
            guard status != statusOK else { return }
            var message: UnsafeMutablePointer<CChar>?
            _ = sesh_options_get_last_error(raw, &message)
            throw SeshError(code: status, message: take(message) ?? SeshError.describe(status))
        }

        try withOptionalCString(options.namespace) { try check(sesh_options_set_namespace(raw, $0)) }
        try check(sesh_options_set_foreground_timeout(raw, options.foregroundTimeout))
        try check(sesh_options_set_background_timeout(raw, options.backgroundTimeout))
        try check(sesh_options_set_max_duration(raw, options.maxDuration))
        try check(sesh_options_set_continue_on_restart(raw, options.continueOnRestart))
        try check(sesh_options_set_anonymous(raw, options.anonymous))
        try check(sesh_options_set_automatic(raw, options.automatic))
        try check(sesh_options_set_start_in_background(raw, options.startInBackground))

        var boxes: [AnyObject] = []
        if let clock = options.clock {
            let box = ClockBox(clock)
            boxes.append(box)
            try check(sesh_options_set_clock(raw, { userData in
                Unmanaged<ClockBox>.fromOpaque(userData!).takeUnretainedValue().clock()
            }, Unmanaged.passUnretained(box).toOpaque()))
        }
        if let callback = options.onSessionStart {
            let box = JsonBox(callback)
            boxes.append(box)
            try check(sesh_options_set_session_start_callback(raw, { userData, json in
                guard let json = json else { return }
                Unmanaged<JsonBox>.fromOpaque(userData!).takeUnretainedValue()
                    .callback(String(cString: json))
            }, Unmanaged.passUnretained(box).toOpaque()))
        }
        if let callback = options.onSessionEnd {
            let box = JsonBox(callback)
            boxes.append(box)
            try check(sesh_options_set_session_end_callback(raw, { userData, json in
                guard let json = json else { return }
                Unmanaged<JsonBox>.fromOpaque(userData!).takeUnretainedValue()
                    .callback(String(cString: json))
            }, Unmanaged.passUnretained(box).toOpaque()))
        }
        if let callback = options.onLog {
            let box = LogBox(callback)
            boxes.append(box)
            try check(sesh_options_set_log_callback(raw, { userData, level, message in
                guard let message = message else { return }
                Unmanaged<LogBox>.fromOpaque(userData!).takeUnretainedValue()
                    .callback(Sesh.LogLevel(rawValue: level) ?? .error, String(cString: message))
            }, Unmanaged.passUnretained(box).toOpaque()))
        }

        switch options.store {
        case .memory:
            try check(sesh_options_set_store_memory(raw))
        case .sqlite(let path):
            try withOptionalCString(path) { try check(sesh_options_set_store_sqlite(raw, $0)) }
        case .custom(let store):
            // sesh owns this reference once the call succeeds, and releases it in destroy.
            let retained = Unmanaged.passRetained(StoreBox(store))
            var custom = SeshCustomStore(
                user_data: retained.toOpaque(),
                storage_mechanism: store.storageMechanism.rawValue,
                get: { userData, key, sink in
                    guard let key = key else { return statusInvalidArgument }
                    let store = Unmanaged<StoreBox>.fromOpaque(userData!).takeUnretainedValue().store
                    do {
                        guard let value = try store.get(String(cString: key)) else { return statusOK }
                        var text = value
                        return text.withUTF8 { bytes -> Int32 in
                            guard let base = bytes.baseAddress, bytes.count > 0 else {
                                return sesh_store_sink_write(sink, nil, 0)
                            }
                            return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                                sesh_store_sink_write(sink, $0, bytes.count)
                            }
                        }
                    } catch let error as SeshError {
                        return error.code == statusOK ? statusStoreError : error.code
                    } catch {
                        return statusStoreError
                    }
                },
                set: { userData, key, value in
                    guard let key = key, let value = value else { return statusInvalidArgument }
                    let store = Unmanaged<StoreBox>.fromOpaque(userData!).takeUnretainedValue().store
                    return store.set(String(cString: key), String(cString: value))
                        ? statusOK : statusStoreError
                },
                destroy: { userData in
                    Unmanaged<StoreBox>.fromOpaque(userData!).release()
                })
            let status = sesh_options_set_store_custom(raw, &custom)
            if status != statusOK {
                retained.release()  // on failure nothing is taken
                try check(status)
            }
        }

        var opened: OpaquePointer?
        // Callbacks (the log, a session end) may run during the open: keep the boxes alive.
        let openStatus = withExtendedLifetime(boxes) { sesh_handle_open(raw, &opened) }
        try check(openStatus)
        handle = opened
        callbacks = boxes
    }

    deinit {
        sesh_handle_free(handle)  // closes (writes what is pending) and frees; then the boxes go
    }

    /// Writes what is pending and closes: later calls throw `.closed`, a second close
    /// included. `.storeError`: closed all the same, but the last write failed.
    public func close() throws { try check(sesh_handle_close(handle)) }

    // ----- events: the entity JSON, or nil in manual mode outside a session ----------------

    @discardableResult
    public func track(eventId: String? = nil) throws -> String? {
        try withOptionalCString(eventId) { id in
            try event { sesh_event_track(handle, id, $0) }
        }
    }

    /// An event with its own timestamp (ms since the epoch), which becomes
    /// firstEventTimestamp when the event opens its session.
    @discardableResult
    public func track(eventId: String? = nil, timestampMs: Int64) throws -> String? {
        try withOptionalCString(eventId) { id in
            try event { sesh_event_track_at(handle, id, timestampMs, $0) }
        }
    }

    // ----- lifecycle ---------------------------------------------------------------------------

    @discardableResult
    public func background(eventId: String? = nil) throws -> Transition {
        try withOptionalCString(eventId) { id in
            try transition { sesh_app_background(handle, id, $0, $1) }
        }
    }

    @discardableResult
    public func foreground(eventId: String? = nil) throws -> Transition {
        try withOptionalCString(eventId) { id in
            try transition { sesh_app_foreground(handle, id, $0, $1) }
        }
    }

    // ----- controls ----------------------------------------------------------------------------

    public func newSession() throws { try check(sesh_session_new(handle)) }
    public func beginSession() throws { try check(sesh_session_begin(handle)) }
    /// false: there was no session (nothing changed).
    @discardableResult
    public func endSession() throws -> Bool {
        let status = sesh_session_end(handle)
        if status == statusNoSession { return false }
        try check(status)
        return true
    }
    /// Ends the session exactly when the next event would renew it by a rule.
    public func check() throws { try check(sesh_session_check(handle)) }
    public func pause() throws { try check(sesh_session_pause(handle)) }
    public func resume() throws { try check(sesh_session_resume(handle)) }
    public func setAnonymous(_ anonymous: Bool) throws { try check(sesh_anonymous_set(handle, anonymous)) }
    public func resetUser() throws { try check(sesh_user_reset(handle)) }

    // ----- getters: nil when there is no session ---------------------------------------------

    public func userId() throws -> String {
        var out: UnsafeMutablePointer<CChar>?
        let status = sesh_user_get_id(handle, &out)
        let text = take(out)
        try check(status)
        return text ?? ""
    }

    public func inBackground() throws -> Bool {
        var out = false
        try check(sesh_app_get_in_background(handle, &out))
        return out
    }

    public func sessionId() throws -> String? { try sessionString { sesh_session_get_id(handle, $0) } }
    public func sessionIndex() throws -> Int64? { try sessionNumber { sesh_session_get_index(handle, $0) } }
    public func eventIndex() throws -> Int64? {
        try sessionNumber { sesh_session_get_event_index(handle, $0) }
    }
    /// nil also when the session has no previous one (or in anonymous mode).
    public func previousSessionId() throws -> String? {
        try sessionString { sesh_session_get_previous_id(handle, $0) }
    }
    public func backgroundIndex() throws -> Int64? {
        try sessionNumber { sesh_session_get_background_index(handle, $0) }
    }
    public func foregroundIndex() throws -> Int64? {
        try sessionNumber { sesh_session_get_foreground_index(handle, $0) }
    }
    /// nil also before the session's first event.
    public func firstEventId() throws -> String? {
        try sessionString { sesh_session_get_first_event_id(handle, $0) }
    }
    public func firstEventTimestamp() throws -> String? {
        try sessionString { sesh_session_get_first_event_timestamp(handle, $0) }
    }
    public func entity() throws -> String? { try sessionString { sesh_session_get_entity(handle, $0) } }

    /// The last fault the handle met on its own (unreadable state, a failing store, a bad
    /// clock reading), or nil when there was none.
    public func lastFault() throws -> SeshError? {
        var out: Int32 = statusOK
        try check(sesh_handle_get_last_fault(handle, &out))
        return out == statusOK ? nil : SeshError(code: out, message: SeshError.describe(out))
    }

    /// The raw handle, for calls this wrapper does not have. Valid while this object lives.
    public var raw: OpaquePointer? { handle }

    // ----- helpers -----------------------------------------------------------------------------

    private func check(_ status: Int32) throws {
        guard status != statusOK else { return }
        var message: UnsafeMutablePointer<CChar>?
        if handle != nil { _ = sesh_handle_get_last_error(handle, &message) }
        throw SeshError(code: status, message: take(message) ?? SeshError.describe(status))
    }

    private func event(
        _ call: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32
    ) throws -> String? {
        var out: UnsafeMutablePointer<CChar>?
        let status = withUnsafeMutablePointer(to: &out) { call($0) }
        let text = take(out)
        if status == statusNoSession { return nil }
        try check(status)
        return text
    }

    private func transition(
        _ call: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>,
                 UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32
    ) throws -> Transition {
        var event: UnsafeMutablePointer<CChar>?
        var entity: UnsafeMutablePointer<CChar>?
        let status = withUnsafeMutablePointer(to: &event) { eventOut in
            withUnsafeMutablePointer(to: &entity) { entityOut in call(eventOut, entityOut) }
        }
        // NO_SESSION (manual mode outside a session) still hands the event over.
        let result = Transition(event: take(event), entity: take(entity))
        if status != statusNoSession { try check(status) }
        return result
    }

    private func sessionString(
        _ call: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32
    ) throws -> String? {
        var out: UnsafeMutablePointer<CChar>?
        let status = withUnsafeMutablePointer(to: &out) { call($0) }
        let text = take(out)
        if status == statusNoSession { return nil }
        try check(status)
        return text
    }

    private func sessionNumber(_ call: (UnsafeMutablePointer<Int64>) -> Int32) throws -> Int64? {
        var out: Int64 = 0
        let status = withUnsafeMutablePointer(to: &out) { call($0) }
        if status == statusNoSession { return nil }
        try check(status)
        return out
    }
}

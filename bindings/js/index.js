// sesh for JavaScript: the engine compiled to WebAssembly (dist/sesh.wasm, made by
// build.sh) behind a small API. Runs in browsers and in Node (>= 20). See README.md.
//
// The module's ABI (src/lib.rs): exports return 0 or 1 and leave their answer in a result
// buffer (text on success, {"status","message"} JSON on failure); strings go in through
// memory from sesh_web_alloc; the clock, the store, the callbacks and crypto.getRandomValues
// are imports (module "sesh_host"). Host code may call sesh again from inside a callback.

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });
const LOG_LEVELS = [undefined, 'error', 'warn', 'info', 'debug'];
const CONTROLS = {
  newSession: 0, endSession: 1, check: 2, pause: 3, resume: 4, anonymous: 5, resetUser: 6,
};
const OPTION_NAMES = new Set([
  'namespace', 'foregroundTimeout', 'backgroundTimeout', 'maxDuration', 'continueOnRestart',
  'anonymous', 'manual', 'startInBackground', 'store', 'clock', 'onSessionStart',
  'onSessionEnd', 'onLog', 'wasm',
]);

/** A failed call: `status` is sesh's status name (`invalid_argument`, `closed`, ...). */
export class SeshError extends Error {
  constructor(status, message, options) {
    super(message, options);
    this.name = 'SeshError';
    this.status = status;
  }
}

// ----- loading ---------------------------------------------------------------------------

let compiled = null; // Promise<WebAssembly.Module>
let runtime = null; // Promise of the live Runtime (a trap retires it; the next open makes another)

async function wasmBytes(source) {
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return source;
  const url = source === undefined ? new URL('./dist/sesh.wasm', import.meta.url)
    : source instanceof URL ? source : new URL(String(source), import.meta.url);
  if (url.protocol === 'file:') {
    const { readFile } = await import('node:fs/promises');
    return readFile(url);
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`sesh: cannot fetch ${url}: HTTP ${response.status}`);
  return response.arrayBuffer();
}

/**
 * Loads and compiles the WebAssembly module once (open() does it when needed). `source`: a
 * URL or path of sesh.wasm, its bytes, or a compiled WebAssembly.Module; by default
 * dist/sesh.wasm beside this file.
 */
export async function init(source) {
  if (!compiled) {
    compiled = (async () => {
      if (source instanceof WebAssembly.Module) return source;
      return WebAssembly.compile(await wasmBytes(source));
    })();
    compiled.catch(() => { compiled = null; });
  }
  return compiled;
}

/** One instance of the module, with the host side of its imports. */
class Runtime {
  static async create(module) {
    const rt = new Runtime();
    const { exports } = await WebAssembly.instantiate(module, { sesh_host: rt.imports() });
    rt.exports = exports;
    return rt;
  }

  constructor() {
    this.contexts = new Map();
    this.nextContext = 1;
    this.dead = null; // why the instance stopped (a trap), if it did
  }

  bytes(ptr, len) {
    return new Uint8Array(this.exports.memory.buffer, ptr, len);
  }

  text(ptr, len) {
    return decoder.decode(this.bytes(ptr, len));
  }

  imports() {
    const rt = this;
    const ctxOf = (ctx) => rt.contexts.get(ctx);
    return {
      now(ctx) {
        const c = ctxOf(ctx);
        try {
          const ms = c.clock();
          return typeof ms === 'number' ? ms : NaN;
        } catch (err) {
          c.complain('the clock threw', err);
          return NaN; // the call fails with callback_error
        }
      },
      store_get(ctx, keyPtr, keyLen) {
        const c = ctxOf(ctx);
        const key = rt.text(keyPtr, keyLen);
        try {
          const value = c.store.get(key);
          if (value === null || value === undefined) return -1;
          c.pending = encoder.encode(String(value));
          return c.pending.length;
        } catch (err) {
          c.complain(`the store's get(${key}) threw`, err);
          return -2;
        }
      },
      store_take(ctx, out) {
        const c = ctxOf(ctx);
        rt.bytes(out, c.pending.length).set(c.pending);
        c.pending = null;
      },
      store_set(ctx, keyPtr, keyLen, valuePtr, valueLen) {
        const c = ctxOf(ctx);
        const key = rt.text(keyPtr, keyLen);
        try {
          c.store.set(key, rt.text(valuePtr, valueLen));
          return 0;
        } catch (err) {
          c.complain(`the store's set(${key}) threw`, err);
          return -2;
        }
      },
      session(ctx, kind, ptr, len) {
        const c = ctxOf(ctx);
        const callback = kind === 0 ? c.onSessionStart : c.onSessionEnd;
        if (!callback) return;
        const json = rt.text(ptr, len);
        try {
          callback(JSON.parse(json), json);
        } catch (err) {
          c.complain(`the session ${kind === 0 ? 'start' : 'end'} callback threw`, err);
        }
      },
      log(ctx, level, ptr, len) {
        const c = ctxOf(ctx);
        if (!c.onLog) return;
        try {
          c.onLog(LOG_LEVELS[level] ?? 'debug', rt.text(ptr, len));
        } catch {
          // A log callback that throws has nowhere to be told.
        }
      },
      random_fill(ptr, len) {
        try {
          for (let done = 0; done < len; done += 65536) {
            globalThis.crypto.getRandomValues(rt.bytes(ptr + done, Math.min(65536, len - done)));
          }
          return 0;
        } catch {
          return -1;
        }
      },
    };
  }

  /** Runs an export; returns what it returned. */
  run(body) {
    if (this.dead) throw this.stopped();
    try {
      return body(this.exports);
    } catch (err) {
      throw this.trapped(err);
    }
  }

  /** The error of every call once the instance stopped. */
  stopped(cause) {
    return new SeshError('panic', `sesh stopped after an internal error: ${this.dead}`,
      cause === undefined ? undefined : { cause });
  }

  /**
   * A trap (a Rust panic aborts) or an exception thrown through the module: its state may
   * be half changed, so every handle of this instance answers `panic` from now on.
   */
  trapped(err) {
    this.dead = err?.message ?? String(err);
    return this.stopped(err);
  }

  /** The text of the last call's answer. */
  result() {
    return this.text(this.exports.sesh_web_result_ptr(), this.exports.sesh_web_result_len());
  }

  /** The last call's error, as a SeshError. */
  error() {
    const { status, message } = JSON.parse(this.result());
    return new SeshError(status, message);
  }

  /** Runs an export; returns its answer's text or throws its SeshError. */
  call(body) {
    if (this.run(body) !== 0) throw this.error();
    return this.result();
  }

  /** Runs `body(ptr, len)` with `text` in the module's memory (`text` null: ptr 0, len 0). */
  withText(text, body) {
    if (text === null || text === undefined) return body(0, 0);
    const bytes = encoder.encode(text);
    const ptr = this.exports.sesh_web_alloc(bytes.length);
    this.bytes(ptr, bytes.length).set(bytes);
    try {
      return body(ptr, bytes.length);
    } finally {
      if (!this.dead) this.exports.sesh_web_free(ptr, bytes.length);
    }
  }
}

async function liveRuntime(source) {
  const module = await init(source);
  let rt = runtime && await runtime.catch(() => null);
  if (!rt || rt.dead) {
    runtime = Runtime.create(module);
    rt = await runtime;
  }
  return rt;
}

// ----- stores ----------------------------------------------------------------------------

const storeIds = new WeakMap();
let nextStoreId = 1;

function storeAdapter(store) {
  if (typeof store.getItem === 'function' && typeof store.setItem === 'function') {
    return { get: (key) => store.getItem(key), set: (key, value) => store.setItem(key, value) };
  }
  if (typeof store.get === 'function' && typeof store.set === 'function') {
    return { get: (key) => store.get(key), set: (key, value) => { store.set(key, value); } };
  }
  throw new SeshError('invalid_argument',
    "store is 'memory', a Storage (getItem/setItem, e.g. localStorage) or a Map (get/set)");
}

// ----- handles ---------------------------------------------------------------------------

const finalizer = typeof FinalizationRegistry === 'function'
  ? new FinalizationRegistry(({ rt, handle, ctx }) => {
    if (!rt.dead) {
      try { rt.call((ex) => ex.sesh_web_close(handle)); } catch { /* nothing to tell */ }
    }
    rt.contexts.delete(ctx);
  })
  : null;

const NO_EVENT_ARGS = Object.freeze({ eventId: null, timestamp: null });
const EVENT_INDEX_KEY = '"eventIndex":';

function eventArgs(options) {
  if (options === undefined || options === null) return NO_EVENT_ARGS;
  if (typeof options !== 'object') {
    throw new SeshError('invalid_argument', 'event options are an object: { eventId, timestamp }');
  }
  const { eventId = null, timestamp = null } = options;
  if (eventId !== null && typeof eventId !== 'string') {
    throw new SeshError('invalid_argument', 'eventId is a UUID string');
  }
  const ts = timestamp instanceof Date ? timestamp.getTime() : timestamp;
  if (ts !== null && typeof ts !== 'number') {
    throw new SeshError('invalid_argument', 'timestamp is milliseconds since the epoch or a Date');
  }
  return { eventId, timestamp: ts };
}

/** An open sesh handle: one namespace's session sequence on one store. */
export class Sesh {
  #rt;
  #handle;
  #ctx;
  #closed = false;
  #sent = null; // the entity sesh_web_track last answered in full, cut around its eventIndex

  /** @internal use open() */
  constructor(rt, handle, ctx) {
    this.#rt = rt;
    this.#handle = handle;
    this.#ctx = ctx;
  }

  get closed() {
    return this.#closed;
  }

  #call(body) {
    if (this.#closed) throw new SeshError('closed', 'the handle is closed');
    return this.#rt.call(body);
  }

  /**
   * Tracks; returns the event index alone when the entity is the last one answered in full
   * (#sent) but for it, else the entity's JSON ('' for none), which becomes #sent.
   */
  #track(options) {
    const { eventId, timestamp } = eventArgs(options);
    if (this.#closed) throw new SeshError('closed', 'the handle is closed');
    const rt = this.#rt;
    if (rt.dead) throw rt.stopped();
    const hasTs = timestamp === null ? 0 : 1;
    const ts = timestamp === null ? 0 : timestamp;
    let answer;
    try {
      // Without an event id (the usual event), no string to pass: no closure either.
      answer = eventId === null
        ? rt.exports.sesh_web_track(this.#handle, 0, 0, 0, hasTs, ts)
        : rt.withText(eventId, (ptr, len) => rt.exports.sesh_web_track(this.#handle, 1, ptr, len, hasTs, ts));
    } catch (err) {
      throw rt.trapped(err);
    }
    if (answer >= 0) return answer;
    if (answer !== -1) throw rt.error();
    const json = rt.result();
    const at = json.indexOf(EVENT_INDEX_KEY);
    if (at < 0) {
      this.#sent = null;
    } else {
      const head = json.slice(0, at + EVENT_INDEX_KEY.length);
      const digits = /^[0-9]*/.exec(json.slice(head.length))[0].length;
      this.#sent = {
        head, tail: json.slice(head.length + digits), entity: undefined, schemaAndData: false,
      };
    }
    return json;
  }

  /** The entity #sent holds with this event index, as a new object. */
  #sentEntity(eventIndex) {
    const sent = this.#sent;
    if (sent.entity === undefined) {
      // Parsed once per entity sesh answered in full (a new session, a first event).
      const entity = JSON.parse(sent.head + 0 + sent.tail);
      const flat = (object) => object !== null && typeof object === 'object'
        && Object.values(object).every((v) => v === null || typeof v !== 'object');
      const { data, ...rest } = entity;
      sent.entity = flat(data) && flat(rest) ? entity : null;
      sent.schemaAndData = Object.keys(entity).join() === 'schema,data';
    }
    const { entity } = sent;
    if (entity === null) return JSON.parse(sent.head + eventIndex + sent.tail);
    // Every value is a string, number or null: copies share nothing a caller could change.
    const data = { ...entity.data, eventIndex };
    return sent.schemaAndData ? { schema: entity.schema, data } : { ...entity, data };
  }

  /** Tracks an event; returns its client_session entity ({schema, data}), or null in manual mode outside a session. */
  track(options) {
    const answer = this.#track(options);
    if (typeof answer === 'number') return this.#sentEntity(answer);
    return answer === '' ? null : JSON.parse(answer);
  }

  /** As track(), the entity as its JSON string (null in manual mode outside a session). */
  trackJson(options) {
    const answer = this.#track(options);
    if (typeof answer === 'number') return this.#sent.head + answer + this.#sent.tail;
    return answer === '' ? null : answer;
  }

  #transition(toBackground, options) {
    const { eventId } = eventArgs(options);
    const json = this.#call((ex) => this.#rt.withText(eventId, (ptr, len) => ex.sesh_web_transition(
      this.#handle, toBackground ? 1 : 0, eventId === null ? 0 : 1, ptr, len,
    )));
    if (json === '') return null;
    const { event, entity } = JSON.parse(json);
    return {
      event,
      entity,
      eventJson: JSON.stringify(event),
      entityJson: entity === null ? null : JSON.stringify(entity),
    };
  }

  /** The app moved to background: its application_background event and entity, or null when it already was. */
  background(options) {
    return this.#transition(true, options);
  }

  /** The app moved to foreground: its application_foreground event and entity, or null when it already was. */
  foreground(options) {
    return this.#transition(false, options);
  }

  #control(op, arg = 0) {
    return this.#call((ex) => ex.sesh_web_control(this.#handle, op, arg));
  }

  /** Ends the current session (reason new_session) and starts a new one at once. */
  newSession() { this.#control(CONTROLS.newSession); }

  /** Starts a session (manual mode's way); ends a running one first, as newSession(). */
  beginSession() { this.#control(CONTROLS.newSession); }

  /** Ends the current session (reason manual); throws SeshError no_session without one. */
  endSession() { this.#control(CONTROLS.endSession); }

  /** Ends the session if the next event would renew it (timeouts, maximum duration). */
  check() { this.#control(CONTROLS.check); }

  pause() { this.#control(CONTROLS.pause); }

  resume() { this.#control(CONTROLS.resume); }

  /** Anonymous mode on or off; a change ends the session and starts another. */
  setAnonymous(anonymous) { this.#control(CONTROLS.anonymous, anonymous ? 1 : 0); }

  /** A new user id for the store; ends the session (user_changed). Returns the new id. */
  resetUser() { return this.#control(CONTROLS.resetUser); }

  /** Everything the getters show, read at once. */
  state() {
    const state = JSON.parse(this.#call((ex) => ex.sesh_web_state(this.#handle)));
    const data = state.entity?.data ?? null;
    return {
      userId: state.userId,
      inBackground: state.inBackground,
      paused: state.paused,
      sessionId: data?.sessionId ?? null,
      sessionIndex: data?.sessionIndex ?? null,
      eventIndex: data?.eventIndex ?? null,
      previousSessionId: data ? data.previousSessionId : null,
      backgroundIndex: state.backgroundIndex,
      foregroundIndex: state.foregroundIndex,
      firstEventId: data ? data.firstEventId : null,
      firstEventTimestamp: data ? data.firstEventTimestamp : null,
      entity: state.entity,
      lastFault: state.lastFault,
    };
  }

  get userId() { return this.state().userId; }
  get inBackground() { return this.state().inBackground; }
  get paused() { return this.state().paused; }
  get sessionId() { return this.state().sessionId; }
  get sessionIndex() { return this.state().sessionIndex; }
  get eventIndex() { return this.state().eventIndex; }
  get previousSessionId() { return this.state().previousSessionId; }
  get backgroundIndex() { return this.state().backgroundIndex; }
  get foregroundIndex() { return this.state().foregroundIndex; }
  get firstEventId() { return this.state().firstEventId; }
  get firstEventTimestamp() { return this.state().firstEventTimestamp; }
  get entity() { return this.state().entity; }
  get entityJson() {
    const { entity } = this.state();
    return entity === null ? null : JSON.stringify(entity);
  }

  /** The last fault sesh met on its own ({status, message}: a damaged store value, a failed write, a bad clock), or null. */
  get lastFault() { return this.state().lastFault; }

  /**
   * Writes what is pending and closes; later calls throw SeshError closed. Throws
   * store_error when the store could not take the last write (the handle is closed anyway).
   */
  close() {
    if (this.#closed) throw new SeshError('closed', 'the handle is closed');
    this.#closed = true;
    finalizer?.unregister(this);
    try {
      if (!this.#rt.dead) this.#rt.call((ex) => ex.sesh_web_close(this.#handle));
    } finally {
      this.#rt.contexts.delete(this.#ctx);
    }
  }
}

/**
 * Opens a handle. Options (all optional): namespace ('default'), foregroundTimeout and
 * backgroundTimeout (whole seconds >= 1, default 1800), maxDuration (seconds, 0: none),
 * continueOnRestart (true), anonymous (false), manual (false), startInBackground (false),
 * store ('memory', or a Storage such as localStorage, or a Map), clock (() => ms; default
 * Date.now), onSessionStart(entity, json), onSessionEnd(summary, json), onLog(level,
 * message), wasm (where sesh.wasm is, for init()).
 */
export async function open(options = {}) {
  if (options === null || typeof options !== 'object') {
    throw new SeshError('invalid_argument', 'options are an object');
  }
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.has(name)) throw new SeshError('invalid_argument', `unknown option ${name}`);
  }
  for (const name of ['clock', 'onSessionStart', 'onSessionEnd', 'onLog']) {
    if (options[name] !== undefined && typeof options[name] !== 'function') {
      throw new SeshError('invalid_argument', `${name} is a function`);
    }
  }
  let store = null;
  let storeId;
  if (options.store !== undefined && options.store !== 'memory') {
    if (options.store === null || typeof options.store !== 'object') {
      throw new SeshError('invalid_argument',
        "store is 'memory', a Storage (getItem/setItem, e.g. localStorage) or a Map (get/set)");
    }
    store = storeAdapter(options.store);
    storeId = storeIds.get(options.store);
    if (storeId === undefined) {
      storeId = nextStoreId++;
      storeIds.set(options.store, storeId);
    }
  }
  const rt = await liveRuntime(options.wasm);
  const ctx = rt.nextContext++;
  const context = {
    clock: options.clock ?? Date.now,
    store,
    pending: null,
    onSessionStart: options.onSessionStart,
    onSessionEnd: options.onSessionEnd,
    onLog: options.onLog,
    complain(what, err) {
      if (!this.onLog) return;
      try { this.onLog('error', `${what}: ${err?.message ?? err}`); } catch { /* nowhere to tell */ }
    },
  };
  rt.contexts.set(ctx, context);
  const wire = {
    namespace: options.namespace,
    foregroundTimeout: options.foregroundTimeout,
    backgroundTimeout: options.backgroundTimeout,
    maxDuration: options.maxDuration,
    continueOnRestart: options.continueOnRestart,
    anonymous: options.anonymous,
    manual: options.manual,
    startInBackground: options.startInBackground,
    store: storeId,
    defaultClock: options.clock === undefined,
    wantsSessionEnd: options.onSessionEnd !== undefined,
  };
  let handle;
  try {
    handle = Number(rt.call((ex) => rt.withText(JSON.stringify(wire), (ptr, len) => ex.sesh_web_open(ctx, ptr, len))));
  } catch (err) {
    rt.contexts.delete(ctx);
    throw err;
  }
  const sesh = new Sesh(rt, handle, ctx);
  finalizer?.register(sesh, { rt, handle, ctx }, sesh);
  return sesh;
}

/**
 * Opt-in: moves `sesh` to background when the page is hidden and to foreground when it is
 * visible again (document's visibilitychange), starting from the page's state now. Returns
 * a function that stops it. Errors (e.g. a closed handle) go to `onError` (default: ignored).
 */
export function trackVisibility(sesh, { document: doc = globalThis.document, onError } = {}) {
  if (!doc || typeof doc.addEventListener !== 'function') {
    throw new SeshError('unsupported', 'trackVisibility needs a document (a browser page)');
  }
  const sync = () => {
    try {
      if (doc.visibilityState === 'hidden') sesh.background();
      else sesh.foreground();
    } catch (err) {
      onError?.(err);
    }
  };
  sync();
  doc.addEventListener('visibilitychange', sync);
  return () => doc.removeEventListener('visibilitychange', sync);
}

// Types for index.js: sesh compiled to WebAssembly.

/** sesh's status names (behaviour §8); `ok` is never thrown. */
export type SeshStatus =
  | 'no_session'
  | 'invalid_argument'
  | 'null_argument'
  | 'invalid_utf8'
  | 'closed'
  | 'store_error'
  | 'corrupt_state'
  | 'callback_error'
  | 'unsupported'
  | 'panic';

/** A failed call. */
export class SeshError extends Error {
  readonly name: 'SeshError';
  readonly status: SeshStatus | string;
  constructor(status: SeshStatus | string, message: string, options?: { cause?: unknown });
}

export interface SelfDescribing<T> {
  schema: string;
  data: T;
}

/** iglu:com.snowplowanalytics.snowplow/client_session/jsonschema/1-0-2 */
export interface ClientSession {
  userId: string;
  sessionId: string;
  sessionIndex: number;
  eventIndex: number;
  previousSessionId: string | null;
  storageMechanism: 'SQLITE' | 'COOKIE_1' | 'COOKIE_3' | 'LOCAL_STORAGE' | 'FLASH_LSO';
  firstEventId: string | null;
  firstEventTimestamp: string | null;
}

export type SessionEntity = SelfDescribing<ClientSession>;

export type EndReason =
  | 'timeout'
  | 'clock_changed'
  | 'max_duration'
  | 'manual'
  | 'new_session'
  | 'user_changed'
  | 'anonymity_changed'
  | 'restart';

/** What onSessionEnd receives. */
export interface SessionSummary {
  sessionId: string;
  sessionIndex: number;
  userId: string;
  firstEventTimestamp: string | null;
  lastActivity: string;
  eventCount: number;
  durationMs: number;
  reason: EndReason;
}

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/** Something like localStorage: keys `sesh:user_id` and `sesh:<namespace>:state`. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export interface MapLike {
  get(key: string): string | undefined | null;
  set(key: string, value: string): unknown;
}

export interface SeshOptions {
  /** One tracker's session sequence; default 'default'. */
  namespace?: string;
  /** Whole seconds >= 1; default 1800. */
  foregroundTimeout?: number;
  /** Whole seconds >= 1; default 1800. */
  backgroundTimeout?: number;
  /** Whole seconds; 0 (default): no maximum. */
  maxDuration?: number;
  /** Default true. */
  continueOnRestart?: boolean;
  /** Default false. */
  anonymous?: boolean;
  /** Manual mode: sessions start and end only when the host says so. Default false. */
  manual?: boolean;
  /** Default false. */
  startInBackground?: boolean;
  /** 'memory' (default: state lives with the handle), localStorage (or any Storage), or a Map. */
  store?: 'memory' | StorageLike | MapLike;
  /** Milliseconds since the epoch; default Date.now. */
  clock?: () => number;
  onSessionStart?: (entity: SessionEntity, json: string) => void;
  onSessionEnd?: (summary: SessionSummary, json: string) => void;
  onLog?: (level: LogLevel, message: string) => void;
  /** Where sesh.wasm is (see init()); default dist/sesh.wasm beside index.js. */
  wasm?: WasmSource;
}

export type WasmSource = string | URL | ArrayBuffer | ArrayBufferView | WebAssembly.Module;

export interface EventOptions {
  /** The event's UUID (8-4-4-4-12, any case); default a generated v4 id. */
  eventId?: string | null;
  /** The event's own timestamp (ms or a Date); default now. track() only. */
  timestamp?: number | Date | null;
}

export interface LifecycleEvent {
  event: SelfDescribing<{ backgroundIndex: number } | { foregroundIndex: number }>;
  /** null in manual mode outside a session. */
  entity: SessionEntity | null;
  eventJson: string;
  entityJson: string | null;
}

export interface Fault {
  status: SeshStatus | string;
  message: string;
}

export interface SeshState {
  userId: string;
  inBackground: boolean;
  paused: boolean;
  sessionId: string | null;
  sessionIndex: number | null;
  eventIndex: number | null;
  previousSessionId: string | null;
  backgroundIndex: number | null;
  foregroundIndex: number | null;
  firstEventId: string | null;
  firstEventTimestamp: string | null;
  entity: SessionEntity | null;
  lastFault: Fault | null;
}

export class Sesh {
  private constructor();
  readonly closed: boolean;
  /** The event's entity; null in manual mode outside a session. */
  track(options?: EventOptions): SessionEntity | null;
  trackJson(options?: EventOptions): string | null;
  /** null when the app already was in background. */
  background(options?: Pick<EventOptions, 'eventId'>): LifecycleEvent | null;
  foreground(options?: Pick<EventOptions, 'eventId'>): LifecycleEvent | null;
  newSession(): void;
  beginSession(): void;
  /** Throws SeshError no_session when there is no session. */
  endSession(): void;
  check(): void;
  pause(): void;
  resume(): void;
  setAnonymous(anonymous: boolean): void;
  /** The new user id. */
  resetUser(): string;
  state(): SeshState;
  readonly userId: string;
  readonly inBackground: boolean;
  readonly paused: boolean;
  readonly sessionId: string | null;
  readonly sessionIndex: number | null;
  readonly eventIndex: number | null;
  readonly previousSessionId: string | null;
  readonly backgroundIndex: number | null;
  readonly foregroundIndex: number | null;
  readonly firstEventId: string | null;
  readonly firstEventTimestamp: string | null;
  readonly entity: SessionEntity | null;
  readonly entityJson: string | null;
  readonly lastFault: Fault | null;
  /** Writes what is pending; throws store_error if it could not (closed anyway). */
  close(): void;
}

export function init(source?: WasmSource): Promise<WebAssembly.Module>;
export function open(options?: SeshOptions): Promise<Sesh>;

/** Background when the page is hidden, foreground when visible. Returns a function that stops it. */
export function trackVisibility(
  sesh: Sesh,
  options?: { document?: Document | EventTarget; onError?: (err: unknown) => void },
): () => void;

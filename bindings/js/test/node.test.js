// sesh through the JavaScript API in Node, on an injected clock (behaviour §§2–8 as the web
// build keeps them). Run: npm test (builds dist/sesh.wasm first when it is missing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open, SeshError, trackVisibility } from '../index.js';

const T0 = 1_700_000_000_000;
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A clock the test moves, and what the callbacks heard. */
function harness(extra = {}) {
  const clock = { now: T0 };
  const heard = [];
  const options = {
    clock: () => clock.now,
    onSessionStart: (entity, json) => {
      assert.equal(typeof json, 'string');
      heard.push(['start', entity.data.sessionIndex]);
    },
    onSessionEnd: (summary) => heard.push(['end', summary.sessionIndex, summary.reason]),
    onLog: (level, message) => heard.push(['log', level, message]),
    ...extra,
  };
  return { clock, heard, options, at: (seconds) => { clock.now = T0 + seconds * 1000; } };
}

function expectSeshError(fn, status) {
  assert.throws(fn, (err) => {
    assert.ok(err instanceof SeshError, `${err} is a SeshError`);
    assert.ok(err instanceof Error);
    assert.equal(err.status, status, err.message);
    return true;
  });
}

/** A Storage-like stand-in for localStorage over a Map. */
function storage(map = new Map()) {
  return {
    map,
    getItem: (key) => (map.has(key) ? map.get(key) : null),
    setItem: (key, value) => { map.set(key, String(value)); },
  };
}

test('seed timeline: fg 360 s, bg 15 s (behaviour §4)', async () => {
  const h = harness({ foregroundTimeout: 360, backgroundTimeout: 15 });
  const sesh = await open(h.options);
  h.at(0);
  const first = sesh.track();
  assert.equal(first.schema, 'iglu:com.snowplowanalytics.snowplow/client_session/jsonschema/1-0-2');
  assert.equal(first.data.sessionIndex, 1);
  assert.equal(first.data.eventIndex, 1);
  assert.equal(first.data.previousSessionId, null);
  assert.equal(first.data.storageMechanism, 'LOCAL_STORAGE');
  assert.match(first.data.sessionId, UUID_V4);
  assert.match(first.data.userId, UUID_V4);
  const session1 = first.data.sessionId;

  h.at(3);
  const bg = sesh.background();
  assert.equal(bg.event.schema, 'iglu:com.snowplowanalytics.snowplow/application_background/jsonschema/1-0-0');
  assert.deepEqual(bg.event.data, { backgroundIndex: 1 });
  assert.equal(bg.entity.data.sessionId, session1);
  assert.equal(bg.entity.data.eventIndex, 2);
  assert.equal(JSON.parse(bg.eventJson).data.backgroundIndex, 1);

  h.at(30);
  const fg = sesh.foreground();
  assert.deepEqual(fg.event.data, { foregroundIndex: 1 });
  assert.equal(fg.entity.data.sessionIndex, 2);
  assert.equal(fg.entity.data.eventIndex, 1);
  assert.equal(fg.entity.data.previousSessionId, session1);
  assert.notEqual(fg.entity.data.sessionId, session1);
  assert.deepEqual(h.heard.filter((e) => e[0] !== 'log'),
    [['start', 1], ['end', 1, 'timeout'], ['start', 2]]);
  sesh.close();
});

test('track gives the entity as an object and as its JSON string', async () => {
  const h = harness();
  const sesh = await open(h.options);
  const json = sesh.trackJson({ eventId: '0F8FAD5B-D9CB-469F-A165-70867728950E', timestamp: new Date(T0 - 5000) });
  assert.equal(typeof json, 'string');
  const entity = JSON.parse(json);
  assert.equal(entity.data.firstEventId, '0f8fad5b-d9cb-469f-a165-70867728950e');
  assert.equal(entity.data.firstEventTimestamp, new Date(T0 - 5000).toISOString());
  assert.deepEqual(sesh.entity, entity);
  assert.equal(sesh.entityJson, json.replace(/"eventIndex":\d+/, '"eventIndex":1'));
  assert.equal(sesh.track().data.eventIndex, 2);
  sesh.close();
});

// A steady event answers only its index (sesh_web_track), and index.js fills it into the
// entity it kept: what it returns must be what the full answer would have been.
test('steady events: every entity is new, whole and its JSON, across renewals and nested calls', async () => {
  const h = harness({ foregroundTimeout: 60 });
  let nested = null;
  let sesh = null;
  h.options.onSessionStart = (entity) => {
    // A callback that tracks on the same handle, inside the outer track().
    if (entity.data.sessionIndex === 2) nested = sesh.trackJson();
  };
  sesh = await open(h.options);
  const seen = [];
  for (let i = 0; i < 6; i++) {
    const entity = sesh.track();
    assert.deepEqual(entity, sesh.entity);
    assert.equal(JSON.stringify(entity), sesh.entityJson, 'the same keys in the same order');
    seen.push(entity);
    entity.data.sessionId = 'changed by the caller';
    entity.schema = 'changed too';
    const json = sesh.trackJson();
    assert.equal(json, sesh.entityJson);
    assert.equal(JSON.parse(json).data.eventIndex, 2 * i + 2);
  }
  assert.deepEqual(seen.map((e) => e.data.eventIndex), [1, 3, 5, 7, 9, 11]);
  assert.equal(new Set(seen).size, 6, 'a new object every time');
  assert.equal(sesh.track().data.sessionId, sesh.sessionId, "a caller's change does not stick");

  h.at(61); // a renewal; the start callback, run inside this track(), tracks too
  const renewed = sesh.track();
  assert.equal(JSON.parse(nested).data.eventIndex, 2);
  assert.equal(renewed.data.sessionIndex, 2);
  assert.equal(renewed.data.eventIndex, 1);
  const current = sesh.entity;
  assert.deepEqual(renewed, { ...current, data: { ...current.data, eventIndex: 1 } });
  assert.equal(sesh.track().data.eventIndex, 3);
  assert.equal(JSON.parse(sesh.trackJson()).data.eventIndex, 4);

  h.options.manual = true; // manual mode: null outside a session, then entities again
  const manual = await open({ ...h.options, onSessionStart: undefined, namespace: 'manual' });
  assert.equal(manual.track(), null);
  assert.equal(manual.trackJson(), null);
  manual.beginSession();
  assert.equal(manual.track().data.eventIndex, 1);
  assert.equal(manual.track().data.eventIndex, 2);
  manual.endSession();
  assert.equal(manual.track(), null);
  manual.beginSession();
  assert.deepEqual(manual.track(), manual.entity);
  manual.close();
  sesh.close();
});

test('timeouts: equal keeps, over renews; background uses its own; maximum duration (§3)', async () => {
  const h = harness({ foregroundTimeout: 60, backgroundTimeout: 10, maxDuration: 3600 });
  const sesh = await open(h.options);
  h.at(0);
  const id1 = sesh.track().data.sessionId;
  h.at(60);
  assert.equal(sesh.track().data.sessionId, id1, 'a gap equal to the timeout keeps the session');
  h.at(121);
  const renewed = sesh.track().data;
  assert.equal(renewed.sessionIndex, 2);
  assert.equal(renewed.previousSessionId, id1);
  sesh.background();
  h.at(131);
  assert.equal(sesh.track().data.sessionIndex, 2, '10 s in background is not over 10 s');
  h.at(142);
  assert.equal(sesh.track().data.sessionIndex, 3, '11 s in background is');
  sesh.foreground();
  for (let t = 142; t <= 142 + 3600; t += 50) {
    h.at(t);
    sesh.track();
  }
  h.at(142 + 3601);
  assert.equal(sesh.track().data.sessionIndex, 4);
  const ends = h.heard.filter((e) => e[0] === 'end').map((e) => e[2]);
  assert.deepEqual(ends, ['timeout', 'timeout', 'max_duration']);
  h.at(142 + 3601 + 61);
  sesh.check();
  assert.equal(sesh.sessionId, null, 'check ended the timed-out session');
  assert.deepEqual(h.heard.filter((e) => e[0] === 'end').at(-1), ['end', 4, 'timeout']);
  sesh.close();
});

test('lifecycle indexes count the moves of the current session (§4)', async () => {
  const h = harness({ foregroundTimeout: 100, backgroundTimeout: 100 });
  const sesh = await open(h.options);
  assert.equal(sesh.inBackground, false);
  assert.equal(sesh.foreground(), null, 'already in foreground: nothing happens');
  assert.equal(sesh.background().event.data.backgroundIndex, 1, 'a move that opens a session carries 1');
  assert.equal(sesh.background(), null);
  assert.equal(sesh.foreground().event.data.foregroundIndex, 1);
  assert.equal(sesh.background().event.data.backgroundIndex, 2);
  assert.deepEqual([sesh.backgroundIndex, sesh.foregroundIndex, sesh.eventIndex], [2, 1, 3]);
  assert.equal(sesh.inBackground, true);
  h.at(1000);
  const fg = sesh.foreground();
  assert.equal(fg.entity.data.sessionIndex, 2);
  assert.equal(fg.event.data.foregroundIndex, 1, 'a new session counts again from 0');
  assert.deepEqual([sesh.backgroundIndex, sesh.foregroundIndex], [0, 1]);
  sesh.close();
});

test('start in background, manual mode, controls and getters (§4, §7)', async () => {
  const h = harness({ manual: true, startInBackground: true });
  const sesh = await open(h.options);
  assert.equal(sesh.inBackground, true);
  assert.equal(sesh.sessionId, null);
  assert.match(sesh.userId, UUID_V4);
  assert.equal(sesh.track(), null, 'manual mode outside a session: no entity');
  const fg = sesh.foreground();
  assert.equal(fg.entity, null);
  assert.equal(fg.entityJson, null);
  assert.deepEqual(fg.event.data, { foregroundIndex: 0 });
  expectSeshError(() => sesh.endSession(), 'no_session');
  sesh.beginSession();
  const started = sesh.state();
  assert.equal(started.sessionIndex, 1);
  assert.equal(started.eventIndex, 0);
  assert.equal(started.firstEventId, null);
  h.at(100_000);
  assert.equal(sesh.track().data.sessionId, started.sessionId, 'manual: no timeout renews');
  sesh.pause();
  assert.equal(sesh.paused, true);
  sesh.resume();
  sesh.setAnonymous(true);
  assert.equal(sesh.userId, '00000000-0000-0000-0000-000000000000');
  assert.equal(sesh.sessionIndex, 2);
  assert.equal(sesh.previousSessionId, null);
  sesh.setAnonymous(false);
  const oldUser = sesh.userId;
  const newUser = sesh.resetUser();
  assert.match(newUser, UUID_V4);
  assert.notEqual(newUser, oldUser);
  assert.equal(sesh.sessionId, null);
  sesh.newSession();
  assert.equal(sesh.sessionIndex, 1, 'a new user counts from 1');
  sesh.endSession();
  const reasons = h.heard.filter((e) => e[0] === 'end').map((e) => e[2]);
  assert.deepEqual(reasons, ['anonymity_changed', 'anonymity_changed', 'user_changed', 'manual']);
  sesh.close();
});

test('a restart through a persisted localStorage stand-in (§5)', async () => {
  const store = storage();
  const h = harness({ namespace: 'app', store, foregroundTimeout: 60 });
  const first = await open(h.options);
  const e1 = first.track().data;
  first.track();
  first.close();
  assert.deepEqual([...store.map.keys()].sort(), ['sesh:app:state', 'sesh:user_id']);
  assert.equal(store.map.get('sesh:user_id'), `v1:${e1.userId}`);
  assert.ok(store.map.get('sesh:app:state').startsWith('v1:{'));

  h.at(30);
  const second = await open(h.options);
  const e2 = second.track().data;
  assert.equal(e2.userId, e1.userId);
  assert.equal(e2.sessionId, e1.sessionId, 'within the timeout the session goes on');
  assert.equal(e2.eventIndex, 3);
  second.close();

  h.at(40);
  const third = await open({ ...h.options, continueOnRestart: false });
  assert.deepEqual(h.heard.filter((e) => e[0] === 'end').at(-1), ['end', 1, 'restart']);
  assert.equal(third.sessionId, null);
  const e3 = third.track().data;
  assert.equal(e3.sessionIndex, 2);
  assert.equal(e3.previousSessionId, e1.sessionId);
  third.close();

  h.at(1000);
  const fourth = await open(h.options);
  assert.equal(fourth.sessionId, null, 'timed out while closed: ended at open');
  assert.deepEqual(h.heard.filter((e) => e[0] === 'end').at(-1), ['end', 2, 'timeout']);
  assert.equal(fourth.track().data.sessionIndex, 3);
  fourth.close();
});

test('a Map works as a store; namespaces share the user, not the session (§1, §2)', async () => {
  const map = new Map();
  const h = harness({ store: map });
  const a = await open({ ...h.options, namespace: 'a' });
  const b = await open({ ...h.options, namespace: 'b' });
  const ea = a.track().data;
  const eb = b.track().data;
  assert.equal(ea.userId, eb.userId);
  assert.notEqual(ea.sessionId, eb.sessionId);
  assert.equal(eb.sessionIndex, 1);
  // Another handle's resetUser is seen at this one's next event.
  const user = b.resetUser();
  const next = a.track().data;
  assert.equal(next.userId, user);
  assert.equal(next.sessionIndex, 1);
  a.close();
  b.close();
  assert.ok(map.has('sesh:a:state') && map.has('sesh:b:state'));
});

test('a damaged stored value: corrupt_state, and a clean start (§5)', async () => {
  for (const damaged of ['v1:{not json', '{"session":null}', 'v9:{}', 'v1:{"version":1}']) {
    const store = storage();
    const h = harness({ namespace: 'app', store });
    const first = await open(h.options);
    const user = first.track().data.userId;
    first.close();
    store.map.set('sesh:app:state', damaged);
    const second = await open(h.options);
    const fault = second.lastFault;
    assert.equal(fault.status, 'corrupt_state', `${damaged}: ${JSON.stringify(fault)}`);
    assert.ok(h.heard.some((e) => e[0] === 'log' && e[1] === 'error'), 'the fault was logged');
    const entity = second.track().data;
    assert.equal(entity.userId, user, 'a readable user is kept');
    assert.equal(entity.sessionIndex, 1);
    assert.equal(entity.previousSessionId, null);
    second.close();
    assert.ok(store.map.get('sesh:app:state').startsWith('v1:{'), 'a clean state was written');
  }
  // A damaged user id: a new user, every namespace clean.
  const store = storage();
  const h = harness({ store });
  const first = await open(h.options);
  const old = first.track().data.userId;
  first.close();
  store.map.set('sesh:user_id', 'v1:not-a-uuid');
  const second = await open(h.options);
  assert.equal(second.lastFault.status, 'corrupt_state');
  const entity = second.track().data;
  assert.notEqual(entity.userId, old);
  assert.equal(entity.sessionIndex, 1);
  second.close();
});

test('a store that throws never stops tracking; its faults are kept (§8)', async () => {
  let failing = false;
  const map = new Map();
  const store = {
    getItem: (key) => map.get(key) ?? null,
    setItem: (key, value) => {
      if (failing) throw new Error('QuotaExceededError');
      map.set(key, value);
    },
  };
  const h = harness({ store });
  const sesh = await open(h.options);
  sesh.track();
  failing = true;
  sesh.newSession();
  assert.equal(sesh.lastFault.status, 'store_error');
  assert.equal(sesh.track().data.sessionIndex, 2);
  failing = false;
  sesh.track();
  sesh.close();
  const kept = JSON.parse(map.get('sesh:default:state').slice('v1:'.length));
  assert.equal(kept.sessionIndex, 2, 'the failed write was retried');

  const unreadable = { getItem: () => { throw new Error('SecurityError'); }, setItem: () => {} };
  const other = await open({ ...harness().options, store: unreadable });
  assert.equal(other.lastFault.status, 'store_error');
  assert.equal(other.track().data.sessionIndex, 1, 'tracking goes on in memory');
  other.close();
});

test('bad input throws SeshError with the status and changes nothing (§8)', async () => {
  const h = harness();
  const sesh = await open(h.options);
  sesh.track();
  for (const eventId of ['nope', '', '0f8fad5bd9cb469fa16570867728950e', '{0f8fad5b-d9cb-469f-a165-70867728950e}']) {
    expectSeshError(() => sesh.track({ eventId }), 'invalid_argument');
    expectSeshError(() => sesh.background({ eventId }), 'invalid_argument');
  }
  expectSeshError(() => sesh.track({ eventId: 42 }), 'invalid_argument');
  expectSeshError(() => sesh.track({ timestamp: -1 }), 'invalid_argument');
  expectSeshError(() => sesh.track({ timestamp: 253402300800000 }), 'invalid_argument');
  expectSeshError(() => sesh.track({ timestamp: 1.5 }), 'invalid_argument');
  expectSeshError(() => sesh.track('not options'), 'invalid_argument');
  assert.equal(sesh.eventIndex, 1, 'nothing was counted');
  assert.equal(sesh.inBackground, false);
  sesh.close();
  expectSeshError(() => sesh.track(), 'closed');
  expectSeshError(() => sesh.state(), 'closed');
  expectSeshError(() => sesh.close(), 'closed');

  const bad = [
    { foregroundTimeout: 0 }, { backgroundTimeout: 1.5 }, { foregroundTimeout: -5 },
    { maxDuration: -1 }, { namespace: '' }, { namespace: 7 }, { anonymous: 'yes' },
    { store: 'sqlite' }, { store: {} }, { clock: 5 }, { colour: 'blue' },
  ];
  for (const options of bad) {
    await assert.rejects(open(options), (err) => err instanceof SeshError && err.status === 'invalid_argument',
      JSON.stringify(options));
  }
});

test('a clock that fails fails the call with callback_error (§8)', async () => {
  let reading = T0;
  const sesh = await open({ clock: () => reading });
  sesh.track();
  for (const bad of [NaN, -1, Infinity, 253402300800000]) {
    reading = bad;
    expectSeshError(() => sesh.track(), 'callback_error');
  }
  // The fault names the reading, as the C ABI's does (not a stand-in for it).
  assert.match(sesh.lastFault.message, /^the clock read 253402300800000, /);
  const throwing = await open({ clock: () => { throw new Error('no time'); } }).catch((err) => err);
  assert.equal(throwing.status, 'callback_error');
  // A failed open is told to onLog too, as sesh_handle_open tells the log callback.
  const logged = [];
  const late = await open({
    clock: () => 253402300800000, onLog: (level, message) => logged.push([level, message]),
  }).catch((err) => err);
  assert.equal(late.status, 'callback_error');
  assert.deepEqual(logged, [['error', late.message]]);
  assert.match(late.message, /^the clock read 253402300800000, /);
  reading = T0 + 1000;
  assert.equal(sesh.track().data.eventIndex, 2);
  assert.equal(sesh.lastFault.status, 'callback_error');
  sesh.close();
});

test('callbacks may call sesh again; one that throws is logged (§6)', async () => {
  const seen = [];
  let sesh;
  const h = harness();
  sesh = await open({
    ...h.options,
    onSessionStart: (entity) => {
      seen.push(sesh.sessionId === entity.data.sessionId);
      if (entity.data.sessionIndex === 1) throw new Error('host bug');
    },
  });
  sesh.track();
  sesh.newSession();
  assert.deepEqual(seen, [true, true]);
  assert.ok(h.heard.some((e) => e[0] === 'log' && /start callback threw: host bug/.test(e[2])));
  sesh.close();
});

test('the default clock is Date.now', async () => {
  const before = Date.now();
  const sesh = await open();
  const ts = Date.parse(sesh.track().data.firstEventTimestamp);
  assert.ok(ts >= before && ts <= Date.now());
  sesh.close();
});

test('trackVisibility wires visibilitychange to background and foreground', async () => {
  const doc = new EventTarget();
  doc.visibilityState = 'visible';
  const sesh = await open(harness().options);
  const stop = trackVisibility(sesh, { document: doc });
  doc.visibilityState = 'hidden';
  doc.dispatchEvent(new Event('visibilitychange'));
  assert.equal(sesh.inBackground, true);
  doc.visibilityState = 'visible';
  doc.dispatchEvent(new Event('visibilitychange'));
  assert.equal(sesh.inBackground, false);
  assert.equal(sesh.foregroundIndex, 1);
  stop();
  doc.visibilityState = 'hidden';
  doc.dispatchEvent(new Event('visibilitychange'));
  assert.equal(sesh.inBackground, false, 'stopped');
  sesh.close();
  assert.throws(() => trackVisibility(sesh, { document: null }), (err) => err.status === 'unsupported');
});

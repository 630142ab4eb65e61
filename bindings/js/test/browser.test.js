// test/browser.html in a real browser: headless Chromium (Debian's `chromium`) loads it from
// a local HTTP server on a fresh profile; the page tracks, reloads itself (a restart on the
// real localStorage) and renews on its injected clock, and its verdict is
// POSTed back to the server (and read from the dumped DOM when the POST is missing).
// The same Chromium run writes a screenshot of the page to test-artifacts/browser.png (kept
// after the test; git-ignored). Skipped, saying so, when no Chromium is installed, unless
// SESH_REQUIRE_ALL_TESTS is set (scripts/test-all), which makes that a failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };

function findChromium() {
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    try {
      return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
    } catch { /* next */ }
  }
  return null;
}

const SCREENSHOT = path.join(root, 'test-artifacts', 'browser.png');
const WIDTH = 1024;
const HEIGHT = 768;

/** Width and height from a PNG's header; throws when `bytes` is not a PNG. */
function pngSize(bytes) {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.ok(bytes.length > 33 && bytes.subarray(0, 8).equals(signature), 'the screenshot is not a PNG');
  assert.equal(bytes.toString('latin1', 12, 16), 'IHDR', 'the PNG does not start with its IHDR chunk');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

test('sesh in headless Chromium: restart by reload on localStorage, renewal, screenshot', async (t) => {
  const chromium = findChromium();
  if (!chromium) {
    // Skipped only where the build does not require every test group (test-all does).
    assert.ok(!process.env.SESH_REQUIRE_ALL_TESTS, 'no chromium on PATH (Debian package chromium)');
    t.skip('no chromium on PATH (Debian package chromium)');
    return;
  }
  // The page POSTs its verdict to /verdict; the DOM dump is the second way to read it.
  let posted = null;
  const server = createServer(async (req, res) => {
    if (req.method === 'POST' && req.url === '/verdict') {
      const parts = [];
      for await (const part of req) parts.push(part);
      posted = Buffer.concat(parts).toString('utf8');
      res.writeHead(204).end();
      return;
    }
    const file = path.join(root, decodeURIComponent(new URL(req.url, 'http://x').pathname));
    if (!file.startsWith(root)) { res.writeHead(403).end(); return; }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/test/browser.html`;
  await mkdir(path.dirname(SCREENSHOT), { recursive: true });
  try {
    // A browser that exits without the page having said anything (no POST, an empty DOM) has
    // not run sesh at all; that start is tried once more, and both starts' logs are kept.
    let verdict = null;
    const starts = [];
    for (let attempt = 1; attempt <= 2 && verdict === null; attempt += 1) {
      posted = null;
      const { dom, log } = await runChromium(chromium, url);
      const fromDom = /<pre id="result">([\s\S]*?)<\/pre>/.exec(dom)?.[1];
      verdict = posted ?? (fromDom && fromDom !== 'RUNNING' ? fromDom : null);
      starts.push(`start ${attempt}: ${posted === null ? 'no verdict posted' : 'verdict posted'}, ` +
        `${dom.length} bytes of DOM; Chromium's log (D-Bus lines left out):\n${log}`);
    }
    assert.ok(verdict !== null, `the page never reported a verdict\n${starts.join('\n')}`);
    if (starts.length > 1) t.diagnostic(starts[0]);
    t.diagnostic(starts.at(-1).split(';')[0]);
    assert.match(verdict, /^PASS/, verdict);
    assert.match(verdict, /^ok load 2: this load is a reload/m, verdict);
    assert.match(verdict, /^ok load 2: the restart continues session/m, verdict);
    assert.match(verdict, /^ok load 2: .* a renewal/m, verdict);
    t.diagnostic(`${verdict.split('\n').length - 1} checks passed in the page`);

    const png = await readFile(SCREENSHOT);
    assert.deepEqual(pngSize(png), { width: WIDTH, height: HEIGHT });
    // A blank page of that size is about 3 KB; the page's text makes it several times that.
    assert.ok(png.length > 10_000, `the screenshot is ${png.length} bytes: nothing on the page?`);
    t.diagnostic(`screenshot: ${path.relative(root, SCREENSHOT)}, ${WIDTH}x${HEIGHT}, ${png.length} bytes`);
  } finally {
    server.close();
  }
});

/** One headless Chromium run on a fresh profile: the DOM it dumps and its log. */
async function runChromium(chromium, url) {
  // A fresh profile: its localStorage starts empty and outlives the page's reload.
  const profile = await mkdtemp(path.join(tmpdir(), 'sesh-chromium-'));
  await rm(SCREENSHOT, { force: true });
  try {
    // --dump-dom and --screenshot both wait for the virtual time budget, which the reload
    // and the page's short timeout stay within; both then see the second load's results.
    // The network flags keep Chromium from calling out of a machine with no way out.
    return await new Promise((resolve, reject) => {
      execFile(chromium, [
        '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--disable-quic', `--user-data-dir=${profile}`, '--virtual-time-budget=10000',
        `--window-size=${WIDTH},${HEIGHT}`, `--screenshot=${SCREENSHOT}`, '--dump-dom', url,
      ], { timeout: 60_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
        const log = stderr.split('\n').filter((line) => line && !line.includes('dbus/')).join('\n');
        if (err) reject(new Error(`${err.message}\n${log}`));
        else resolve({ dom: stdout, log });
      });
    });
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}

// test/browser.html in a real browser: headless Chromium (Debian's `chromium`) loads it from
// a local HTTP server, and the page's verdict is read from its DOM. Skipped, saying so,
// when no Chromium is installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
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

test('sesh in headless Chromium: localStorage, crypto, visibility', async (t) => {
  const chromium = findChromium();
  if (!chromium) {
    // Skipped only where the build does not require every test group (test-all does).
    assert.ok(!process.env.SESH_REQUIRE_ALL_TESTS, 'no chromium on PATH (Debian package chromium)');
    t.skip('no chromium on PATH (Debian package chromium)');
    return;
  }
  const server = createServer(async (req, res) => {
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
  try {
    const dom = await new Promise((resolve, reject) => {
      execFile(chromium, [
        '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
        '--virtual-time-budget=10000', '--dump-dom', url,
      ], { timeout: 60_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${err.message}\n${stderr}`));
        else resolve(stdout);
      });
    });
    const verdict = /<pre id="result">([\s\S]*?)<\/pre>/.exec(dom)?.[1] ?? dom;
    assert.match(verdict, /^PASS/, verdict);
    t.diagnostic(verdict.split("\n").length - 1 + " checks passed in the page");
  } finally {
    server.close();
  }
});

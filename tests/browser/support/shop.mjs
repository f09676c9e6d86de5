// One isolated shop for the browser tests: its own PostgreSQL database (shop_browser_<random>),
// its own Redis key prefix, and runtime-local serving spin.toml on a free loopback port.
// Everything is removed again by stop(), or, if this process dies first, by support/reaper.mjs.
import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

import { deleteKeys } from './redis.mjs';

const run = promisify(execFile);

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const RESULTS = path.join(ROOT, 'test-results');
const RUNTIME = path.join(ROOT, 'target/debug/runtime-local');
const ADMIN = path.join(ROOT, 'target/debug/shop-admin');
const REAPER = fileURLToPath(new URL('./reaper.mjs', import.meta.url));

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function admin(args, env = process.env) {
  try {
    const { stdout } = await run(ADMIN, args, { cwd: ROOT, env, timeout: 90_000 });
    return stdout;
  } catch (e) {
    throw new Error(`shop-admin ${args[0]} failed: ${e.stderr || e.message}`);
  }
}

export class Shop {
  constructor() {
    const id = randomBytes(6).toString('hex');
    this.pgAddr = process.env.SHOP_PG_ADDR || '127.0.0.1:5432';
    this.redisAddr = process.env.SHOP_REDIS_ADDR || '127.0.0.1:6379';
    this.database = `shop_browser_${id}`;
    this.dbUrl = `postgres://postgres@${this.pgAddr}/${this.database}?sslmode=disable`;
    this.redisPrefix = `browser:${id}:`;
    this.token = randomBytes(16).toString('hex');
    this.logFile = path.join(RESULTS, `browser-shop-${id}.log`);
    this.pidFile = path.join(RESULTS, `browser-shop-${id}.pid`);
    this.child = null;
    this.base = null;
    this.created = false;
  }

  async start() {
    for (const bin of [RUNTIME, ADMIN]) {
      if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run scripts/test-browser (or cargo build -p runtime-local -p shop-e2e --bins)`);
    }
    fs.mkdirSync(RESULTS, { recursive: true });
    // The safety net, in a process group of its own so that a signal meant for the tests (or
    // SIGKILL of this process) doesn't reach it: it cleans up if this process dies first.
    this.reaper = spawn(
      process.execPath,
      [REAPER, String(process.pid), this.pidFile, ADMIN, this.dbUrl, this.redisAddr, this.redisPrefix],
      { cwd: ROOT, detached: true, stdio: 'ignore' },
    );
    this.reaper.unref();
    interrupted.add(this);
    await admin(['create-database', this.dbUrl]);
    this.created = true;

    this.port = await freePort();
    this.base = `http://127.0.0.1:${this.port}`;
    this.internalToken = randomBytes(16).toString('hex');
    await this.serve({});
    return this;
  }

  /** Starts runtime-local with our variables plus `variables` (e.g. a service URL that fails). */
  async serve(variables) {
    // Only our variables: none inherited from the caller's environment.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SPIN_VARIABLE_')));
    Object.assign(env, {
      SPIN_VARIABLE_DB_URL: this.dbUrl,
      SPIN_VARIABLE_DB_HOST: this.pgAddr,
      SPIN_VARIABLE_REDIS_URL: `redis://${this.redisAddr}`,
      SPIN_VARIABLE_REDIS_HOST: this.redisAddr,
      SPIN_VARIABLE_REDIS_PREFIX: this.redisPrefix,
      SPIN_VARIABLE_OPERATOR_TOKEN: this.token,
      SPIN_VARIABLE_INTERNAL_TOKEN: this.internalToken,
      RUST_LOG: process.env.RUST_LOG || 'info',
    }, variables);
    const log = fs.openSync(this.logFile, 'a');
    // --refuse-empty-query-results: every page proves it sends Spin 4.0.x no row-less query.
    const args = ['up', '--manifest', 'spin.toml', '--listen', `127.0.0.1:${this.port}`, '--refuse-empty-query-results'];
    this.child = spawn(RUNTIME, args, {
      cwd: ROOT,
      env,
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    fs.writeFileSync(this.pidFile, String(this.child.pid));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    const early = this.exited.then(({ code, signal }) => {
      throw new Error(`runtime-local exited early (${signal || code}):\n${this.logTail()}`);
    });
    // `shop-admin migrate` waits for the health check, then applies the migrations and seed.
    await Promise.race([admin(['migrate', this.base], env), early]);
    early.catch(() => {}); // a later exit is stop()'s business
  }

  /** Serves the same shop (database, Redis keys, address, so the browser's cookies) again with
   *  other variables: an outage and its end, as a shopper lives through them. */
  async restart(variables = {}) {
    await this.halt();
    await this.serve(variables);
  }

  /** For tests: lets `seconds` pass for the orders (past the grace period and shoppers' leases). */
  async letTimePass(seconds) {
    await admin(['let-time-pass', this.dbUrl, String(seconds)]);
  }

  async halt() {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 12_000);
      await this.exited;
      clearTimeout(timer);
    }
  }

  logTail(lines = 40) {
    try {
      return fs.readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  url(p) {
    return `${this.base}${p}`;
  }

  /** Calls the operator API with the shop's token. */
  async operator(method, p, body) {
    const response = await fetch(this.url(p), {
      method,
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${p} answered ${response.status}: ${text}`);
    return JSON.parse(text);
  }

  async stop() {
    await this.halt();
    const problems = [];
    if (this.created) {
      await admin(['drop-database', this.dbUrl]).catch((e) => problems.push(e.message));
      this.created = false;
    }
    await deleteKeys(this.redisAddr, this.redisPrefix).catch((e) => problems.push(`deleting Redis keys: ${e.message}`));
    interrupted.delete(this);
    if (problems.length) throw new Error(problems.join('\n'));
    // All clean: the safety net can go, and so can the server's log.
    if (this.reaper && this.reaper.exitCode === null) this.reaper.kill('SIGTERM');
    fs.rmSync(this.pidFile, { force: true });
    fs.rmSync(this.logFile, { force: true });
  }
}

// Interrupted (Ctrl-C, CI's timeout): stop the shop properly if there is time. node's test
// runner may end this process first; then the reaper does the same work.
const interrupted = new Set();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    await Promise.allSettled([...interrupted].map((shop) => shop.stop()));
    process.exit(130);
  });
}

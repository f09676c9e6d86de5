// The browser suite's safety net, started detached (its own process group) by Shop.start():
// if the test process dies without stopping its shop (killed, interrupted, crashed), this stops
// runtime-local, drops the database and deletes the Redis keys. Told "all clean" with SIGTERM.
//
//   node support/reaper.mjs <test pid> <runtime pid file> <shop-admin> <db url> <redis addr> <prefix>
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

import { deleteKeys } from './redis.mjs';

const [watched, pidFile, admin, dbUrl, redisAddr, prefix] = process.argv.slice(2);
const logFile = pidFile.replace(/\.pid$/, '.log');

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
};

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => {}); // a Ctrl-C meant for the tests is not for the safety net
process.on('SIGHUP', () => {});

const timer = setInterval(async () => {
  if (alive(Number(watched))) return;
  clearInterval(timer);
  try {
    const runtime = Number(fs.readFileSync(pidFile, 'utf8'));
    if (runtime && alive(runtime)) {
      process.kill(runtime, 'SIGTERM');
      for (let i = 0; i < 50 && alive(runtime); i++) await new Promise((r) => setTimeout(r, 200));
      if (alive(runtime)) process.kill(runtime, 'SIGKILL');
    }
  } catch {}
  try {
    execFileSync(admin, ['drop-database', dbUrl], { stdio: 'ignore', timeout: 30_000 });
  } catch {}
  await deleteKeys(redisAddr, prefix).catch(() => {});
  fs.rmSync(pidFile, { force: true });
  fs.rmSync(logFile, { force: true });
  process.exit(0);
}, 250);

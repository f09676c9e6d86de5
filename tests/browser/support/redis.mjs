// Just enough of the Redis protocol (RESP2) to remove the keys of one key prefix: SCAN, then DEL.
// No dependency needed for two commands.
import net from 'node:net';

function encode(args) {
  let out = `*${args.length}\r\n`;
  for (const a of args) out += `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`;
  return out;
}

// Parses one RESP value from buf at offset; returns [value, next offset] or null when incomplete.
function parse(buf, at) {
  const eol = buf.indexOf('\r\n', at);
  if (eol < 0) return null;
  const kind = String.fromCharCode(buf[at]);
  const line = buf.toString('utf8', at + 1, eol);
  let next = eol + 2;
  switch (kind) {
    case '+': return [line, next];
    case '-': return [new Error(`redis: ${line}`), next];
    case ':': return [Number(line), next];
    case '$': {
      const len = Number(line);
      if (len < 0) return [null, next];
      if (buf.length < next + len + 2) return null;
      return [buf.toString('utf8', next, next + len), next + len + 2];
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return [null, next];
      const items = [];
      for (let i = 0; i < n; i++) {
        const r = parse(buf, next);
        if (!r) return null;
        items.push(r[0]);
        next = r[1];
      }
      return [items, next];
    }
    default: throw new Error(`redis: unexpected reply ${JSON.stringify(buf.toString('utf8', at, eol))}`);
  }
}

class Connection {
  constructor(socket) {
    this.socket = socket;
    this.buf = Buffer.alloc(0);
    this.waiting = [];
    socket.on('data', (chunk) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      for (;;) {
        const r = this.waiting.length ? parse(this.buf, 0) : null;
        if (!r) break;
        this.buf = this.buf.subarray(r[1]);
        const { resolve, reject } = this.waiting.shift();
        r[0] instanceof Error ? reject(r[0]) : resolve(r[0]);
      }
    });
    socket.on('error', (e) => this.waiting.splice(0).forEach(({ reject }) => reject(e)));
  }

  command(...args) {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.socket.write(encode(args));
    });
  }

  close() {
    this.socket.end();
  }
}

function connect(addr) {
  const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port }, () => resolve(new Connection(socket)));
    socket.once('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error(`redis at ${addr}: timed out`)));
  });
}

/** Deletes every key that starts with `prefix`; returns how many were deleted. */
export async function deleteKeys(addr, prefix) {
  if (!prefix) throw new Error('refusing to delete keys without a prefix');
  const conn = await connect(addr);
  try {
    const pattern = prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`) + '*';
    let cursor = '0';
    let deleted = 0;
    do {
      const [nextCursor, keys] = await conn.command('SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000);
      if (keys.length) deleted += await conn.command('DEL', ...keys);
      cursor = nextCursor;
    } while (cursor !== '0');
    return deleted;
  } finally {
    conn.close();
  }
}

/** Keys that start with `prefix` (for checks). */
export async function keys(addr, prefix) {
  const conn = await connect(addr);
  try {
    const found = [];
    let cursor = '0';
    do {
      const [nextCursor, batch] = await conn.command('SCAN', cursor, 'MATCH', prefix + '*', 'COUNT', 1000);
      found.push(...batch);
      cursor = nextCursor;
    } while (cursor !== '0');
    return found;
  } finally {
    conn.close();
  }
}


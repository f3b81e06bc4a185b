// The kernel's socket bounds what a peer can make it hold: a frame over the limit never reaches
// the kernel (libzmq disconnects its sender), and every other peer's messages still do.

import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dealer } from 'zeromq';
import { KernelSocket } from '../shared/transport.js';
import { encode } from '../shared/messages.js';
import { messageBytesMax } from '../shared/limits.js';

test('a frame over the size limit never reaches the kernel; the others do', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vrange-test-'));
  const endpoint = `ipc://${join(dir, 'k.sock')}`;
  const limit = 64 * 1024;
  const kernel = new KernelSocket(endpoint, (e) => { throw e; }, undefined, limit);
  await kernel.bind();
  const got: Array<{ from: string; msgs: unknown[] }> = [];
  const garbage: string[] = [];
  const listening = kernel.listen((from, msgs) => { got.push({ from, msgs }); }, (from) => { garbage.push(from); });
  const big = new Dealer({ linger: 0, routingId: 'big' });
  const small = new Dealer({ linger: 0, routingId: 'small' });
  try {
    big.connect(endpoint);
    small.connect(endpoint);
    const hello = encode({ t: 'hello', osPid: 1 } as never);
    // Just over the limit: a hello whose host field is padded.
    await big.send(encode({ t: 'hello', osPid: 1, host: 'x'.repeat(limit + 16) } as never));
    await big.send(hello); // after the big frame the connection is gone: this is not delivered either
    await small.send(hello);
    const deadline = Date.now() + 5000;
    while (!got.some((g) => g.from === 'small') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300)); // time for anything of big's to arrive, if it could
    t.true(got.some((g) => g.from === 'small'), 'the small peer is heard');
    t.false(got.some((g) => g.from === 'big' && JSON.stringify(g.msgs).length > limit), 'the big frame never reached the kernel');
    t.deepEqual(garbage, []);
  } finally {
    big.close(); small.close(); kernel.close();
    await listening.catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
  // The product's own limit leaves room for the largest legitimate frame (about 100 MB).
  t.true(messageBytesMax >= 128 * 2 ** 20);
});

// The worker's IPC writer (src/worker/ipcWriter.ts): a large reply waited for with flushed() reaches the parent
// before the worker's next synchronous computation ends; written without waiting, it is stuck behind it (the
// control, which shows the check can fail). Oracle: the parent's own clock between the two arrivals.
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';

const CHILD = path.join(import.meta.dirname, 'helpers', 'ipcChild.ts');

/** ms between the large message's arrival and "done" (the child blocks 600 ms in between). */
function gap(mode: 'flush' | 'no-flush'): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = fork(CHILD, [mode], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const arrived: Record<number, number> = {};
    child.on('message', (m: { id: number }) => { arrived[m.id] = performance.now(); });
    child.on('error', reject);
    child.on('exit', () => {
      if (arrived[1] === undefined || arrived[2] === undefined) reject(new Error(`the child sent ${JSON.stringify(Object.keys(arrived))}`));
      else resolve(arrived[2] - arrived[1]);
    });
  });
}

test('a reply waited for with flushed() leaves before the next computation; without waiting it is stuck behind it', { timeout: 60_000 }, async () => {
  const flushed = await gap('flush');
  assert.ok(flushed > 400, `flushed: the large message came only ${flushed.toFixed(0)} ms before "done" (the child blocks 600 ms)`);
  const control = await gap('no-flush');
  console.log(`large message before "done": ${flushed.toFixed(0)} ms flushed, ${control.toFixed(0)} ms not`);
  assert.ok(control < 300, `control: without flushed() the large message came ${control.toFixed(0)} ms before "done"; expected it stuck behind the block`);
});

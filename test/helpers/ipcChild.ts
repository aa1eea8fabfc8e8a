// A child for test/ipcWriter.test.ts: writes one large message through FlushableIpcWriter, optionally waits
// for it to leave, then blocks its event loop (as an ONNX Runtime run does) and says "done".
import type { Message } from 'vscode-jsonrpc/node';
import { FlushableIpcWriter } from '../../src/worker/ipcWriter';

const wait = process.argv[2] === 'flush';
const writer = new FlushableIpcWriter(process);
const big = { jsonrpc: '2.0', id: 1, result: 'x'.repeat(4 * 1024 * 1024) } as Message;

void (async () => {
  await writer.write(big);
  if (wait) await writer.flushed();
  const until = Date.now() + 600;
  while (Date.now() < until) { /* a synchronous computation */ }
  await writer.write({ jsonrpc: '2.0', id: 2, result: 'done' } as Message);
  await writer.flushed();
  process.disconnect();
})();

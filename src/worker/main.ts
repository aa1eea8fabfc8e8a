/**
 * The Loupe worker: a child process (forked with an IPC channel) that owns TF.js and the models,
 * so a long or crashing computation never blocks or takes down the host.
 * stdout and stderr are logs; the protocol runs over IPC (src/protocol/worker.ts).
 */
import { createMessageConnection, IPCMessageReader } from 'vscode-jsonrpc/node';
import { Worker } from 'node:worker_threads';
import { LoupeError } from '../protocol/errors';
import { FlushableIpcWriter } from './ipcWriter';
import { parseBackend, registerHandlers } from './server';

function log(line: string): void {
  process.stderr.write(`[loupe-worker ${process.pid}] ${new Date().toISOString().slice(11, 23)} ${line}\n`);
}

function main(): void {
  if (!process.send) {
    log('must be started by child_process.fork with an IPC channel; exiting');
    process.exit(2);
  }
  // Libraries that print to stdout (TF.js's banners) go to the log instead.
  console.log = (...args: unknown[]) => log(args.map(String).join(' '));
  console.info = console.log;
  console.warn = (...args: unknown[]) => log(`warning: ${args.map(String).join(' ')}`);

  let backend;
  try {
    backend = parseBackend(process.env.LOUPE_BACKEND, 'LOUPE_BACKEND');
  } catch (err) {
    log(`${(err as LoupeError).message}; using auto`);
    backend = 'auto' as const;
  }

  const writer = new FlushableIpcWriter(process);
  const connection = createMessageConnection(new IPCMessageReader(process), writer);
  registerHandlers(connection, { backend, log, flushed: () => writer.flushed() });
  connection.onError(([err]) => log(`connection error: ${err.message}`));
  connection.onClose(() => shutdown('the connection closed'));
  connection.listen();

  // The parent going away must not leave an orphan holding a core and a model in memory.
  process.on('disconnect', () => shutdown('the parent disconnected'));
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) shutdown(`the parent process ${parent} is gone`);
  }, 1000).unref();
  watchParentFromAThread(parent);

  process.on('unhandledRejection', (reason) => log(`unhandled rejection: ${(reason as Error)?.stack ?? String(reason)}`));
  log(`started (node ${process.versions.node}, backend preference ${backend})`);
}

/**
 * The interval above never runs while the main thread is stuck in a long synchronous kernel (or a
 * bug spins it): a thread of its own watches the parent and kills the process when the parent is gone.
 */
function watchParentFromAThread(parent: number): void {
  const code = `const { workerData } = require('node:worker_threads');
setInterval(() => { if (process.ppid !== workerData.parent) process.kill(workerData.self, 'SIGKILL'); }, 1000);`;
  try {
    new Worker(code, { eval: true, workerData: { parent, self: process.pid } }).unref();
  } catch (err) {
    log(`cannot start the parent watchdog thread: ${(err as Error).message}`);
  }
}

let exiting = false;
function shutdown(why: string): void {
  if (exiting) return;
  exiting = true;
  log(`exiting: ${why}`);
  process.exit(0);
}

main();

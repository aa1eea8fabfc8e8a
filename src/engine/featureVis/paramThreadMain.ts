/**
 * The parameterisation's helper thread (paramThreads.ts): sleeps on a shared counter, takes each job from its
 * port synchronously when woken, runs its share of the kernel, then says so through the shared control word the
 * caller waits on. No event loop turn per job: a message round trip cost ~0.2 ms, the whole share of a small loop.
 * Bundled as dist/paramThread.js.
 */
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { PARAM_KERNELS, type ParamKernel } from './paramKernels';
import { CONTROL } from './paramThreadControl';

type Job = { kind: ParamKernel; args: unknown[]; seq: number } | { stop: true };

const { control, port } = workerData as { control: Int32Array; port: MessagePort };

/** How long the helper spins for its next job before it sleeps. */
const SPIN_MS = 0.5;

parentPort?.postMessage('ready'); // the kernels are loaded: jobs get an answer at once from here on

let taken = 0;
for (;;) {
  // Wait until the caller has posted more jobs than this thread has taken: spinning a little first, since the
  // next job of a step follows within a fraction of a millisecond and a sleep's wake-up costs ~0.1 ms here.
  const spinUntil = performance.now() + SPIN_MS;
  while (Atomics.load(control, CONTROL.posted) === taken && performance.now() < spinUntil) { /* spin */ }
  while (Atomics.load(control, CONTROL.posted) === taken) Atomics.wait(control, CONTROL.posted, taken, 1000);
  const received = receiveMessageOnPort(port) as { message: Job } | undefined;
  if (!received) continue; // counted before it reached the port: look again
  taken++;
  const job = received.message;
  if ('stop' in job) break;
  try {
    (PARAM_KERNELS[job.kind] as (...args: unknown[]) => unknown)(...job.args);
    Atomics.store(control, CONTROL.failed, 0);
  } catch (err) {
    Atomics.store(control, CONTROL.failed, 1);
    console.error(`parameterisation helper thread: ${(err as Error)?.stack ?? String(err)}`);
  }
  Atomics.store(control, CONTROL.done, job.seq);
  Atomics.notify(control, CONTROL.done);
}
port.close();

import { spawnSync } from 'node:child_process';
import type { TorchPeer } from './report';

const TORCH_TIMEOUT_MS = 5 * 60 * 1000;

/** Runs bench/torch_peer.py (same MobileNetV2, 2 threads) and parses the JSON it prints. */
export function runTorchPeer(python: string, script: string, quick: boolean): TorchPeer {
  const args = quick ? ['--reps', '2', '--heavy-reps', '1'] : ['--reps', '5', '--heavy-reps', '3'];
  const run = spawnSync(python, [script, '--threads', '2', ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: TORCH_TIMEOUT_MS,
    // One thread pool of 2: keep OpenMP/MKL from starting their own on every core.
    env: { ...process.env, OMP_NUM_THREADS: '2', MKL_NUM_THREADS: '2' },
  });
  if (run.error || run.status !== 0) {
    const detail = run.error?.message ?? run.stderr.trim().split('\n').slice(-3).join(' | ');
    return { available: false, reason: `bench/torch_peer.py failed: ${detail}` };
  }
  const lastLine = run.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(lastLine) as TorchPeer;
  } catch {
    return { available: false, reason: `bench/torch_peer.py printed no JSON: ${lastLine.slice(0, 200)}` };
  }
}

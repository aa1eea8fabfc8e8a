import { spawnSync } from 'node:child_process';
import type { PeerModel } from './report';

const EXPORT_TIMEOUT_MS = 5 * 60 * 1000;
const TORCH_TIMEOUT_MS = 10 * 60 * 1000;

/** The models bench/torch_peer.py exports and times (torchvision builders). */
export const TORCH_MODELS = ['resnet18', 'mobilenet_v2'] as const;
export type TorchModel = (typeof TORCH_MODELS)[number];

/**
 * The first python that imports torch and torchvision. /usr/bin/python3 is tried too because Debian's
 * python3-torch is invisible to a pyenv/conda python3 that comes first on PATH.
 */
export function findTorchPython(): { python: string } | { reason: string } {
  const candidates = [process.env.LOUPE_BENCH_PYTHON, 'python3', '/usr/bin/python3'];
  let withoutVision: string | undefined;
  for (const python of candidates) {
    if (!python) continue;
    const probe = spawnSync(python, ['-c', 'import torch, numpy, torchvision'], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
    if (!probe.error && probe.status === 0) return { python };
    if (!probe.error && /torchvision|numpy/.test(probe.stderr)) withoutVision ??= python;
  }
  return withoutVision
    ? { reason: `${withoutVision} imports torch but not torchvision/numpy (Debian: apt-get install python3-torchvision)` }
    : { reason: 'PyTorch not installed: no python3 imports torch (Debian: apt-get install python3-torch python3-torchvision; or set LOUPE_BENCH_PYTHON)' };
}

// One thread pool of the asked size: keep OpenMP/MKL from starting their own on every core.
const threadEnv = (threads: number) => ({ ...process.env, OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) });

function runJson<T>(python: string, args: string[], threads: number, timeout: number): T | { error: string } {
  const run = spawnSync(python, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout, env: threadEnv(threads) });
  if (run.error || run.status !== 0) {
    return { error: `${args[0]} failed: ${run.error?.message ?? run.stderr.trim().split('\n').slice(-3).join(' | ')}` };
  }
  const lastLine = run.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(lastLine) as T;
  } catch {
    return { error: `${args[0]} printed no JSON: ${lastLine.slice(0, 200)}` };
  }
}

export interface TorchExport {
  torch: string;
  torchvision: string;
  /** gradientNoise: PyTorch's own float32 gradient against its float64 one (relative L2 error). */
  models: Record<TorchModel, { target: number; seconds: number; bytes: number; gradientNoise: number }>;
}

/** torch_peer.py --export: both models as ONNX + state_dict + reference .npy in `dir`. */
export function exportTorchModels(python: string, script: string, dir: string, threads: number): TorchExport | { error: string } {
  return runJson<TorchExport>(python, [script, '--export', dir, '--threads', String(threads)], threads, EXPORT_TIMEOUT_MS);
}

/** torch_peer.py --model: times one exported model in PyTorch (same weights), in a process of its own. */
export function runTorchPeer(python: string, script: string, model: TorchModel, dir: string, quick: boolean, threads: number):
  PeerModel | { error: string } {
  const reps = quick ? ['--reps', '2', '--heavy-reps', '1'] : ['--reps', '5', '--heavy-reps', '3'];
  return runJson<PeerModel>(python, [script, '--model', model, '--weights', dir, '--threads', String(threads), ...reps], threads, TORCH_TIMEOUT_MS);
}

/** torch_peer.py --featurevis: Lucid's feature visualisation recipe as Lucent runs it, ms per step. */
export interface TorchFeatureVis {
  steps: number;
  threads: number;
  torch: string;
  msPerStep: { total: number; parameterisation: number; forward: number; backward: number; adam: number };
}

export function runTorchFeatureVis(python: string, script: string, steps: number, threads: number): TorchFeatureVis | { error: string } {
  // Up to 8 s a step: on a busy machine PyTorch's steps slow up to ~60× (5 s measured at load average 14 on 2 cores).
  return runJson<TorchFeatureVis>(python, [script, '--featurevis', '--steps', String(steps), '--threads', String(threads)], threads,
    Math.max(TORCH_TIMEOUT_MS, steps * 8000));
}

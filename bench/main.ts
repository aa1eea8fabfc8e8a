/**
 * `npm run bench`: costs of Loupe's engine per model, against the performance targets and,
 * when python3 + torch are installed, against the same MobileNetV2 in PyTorch.
 *
 *   node dist/bench.js [--json] [--quick] [--no-dissect] [--no-featurevis] [--only-featurevis]
 *
 * Each model runs in its own child process (this bundle, forked with `--child`) so that
 * peak RSS is the model's own, not the sum of everything measured before it.
 */
import { fork, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runChild, type ChildSpec, type ModelBench } from './child';
import { dissectionSizes, measureDissection, renderDissection, type DissectBench, type DissectSpec } from './dissection';
import { measureFeatureVis, renderFeatureVis, type FeatureVisBench, type FeatureVisSpec } from './featureVis';
import { saveMobileNetV2 } from './mobilenetv2';
import { renderTable, targetChecks, type BenchReport, type TorchPeer } from './report';
import { runTorchPeer } from './torchPeer';

const CHILD_TIMEOUT_MS = 10 * 60 * 1000;

/** Repository root: dist/bench.js and bench/main.ts both sit one level below it. */
const ROOT = path.resolve(__dirname, '..');

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

function benchInChild(spec: ChildSpec): Promise<ModelBench>;
function benchInChild(spec: DissectSpec): Promise<DissectBench>;
function benchInChild(spec: FeatureVisSpec): Promise<FeatureVisBench>;
function benchInChild(spec: ChildSpec | DissectSpec | FeatureVisSpec): Promise<ModelBench | DissectBench | FeatureVisBench> {
  return new Promise((resolve, reject) => {
    const child = fork(process.argv[1]!, ['--child', JSON.stringify(spec)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result: ModelBench | DissectBench | FeatureVisBench | undefined;
    const timer = setTimeout(() => {
      log(`${spec.name}: no result after ${CHILD_TIMEOUT_MS / 60000} min, stopping it`);
      child.kill('SIGKILL');
    }, CHILD_TIMEOUT_MS);
    child.on('message', (message) => {
      const m = message as { kind: string; result?: ModelBench | DissectBench | FeatureVisBench; error?: string; text?: string };
      if (m.kind === 'progress') log(`${spec.name}: ${m.text}`);
      else if (m.kind === 'result') result = m.result;
      else if (m.kind === 'error') reject(new Error(`${spec.name}: ${m.error}`));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (result) resolve(result);
      else reject(new Error(`${spec.name}: child exited (${signal ?? code}) without a result`));
    });
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const childIndex = args.indexOf('--child');
  if (childIndex >= 0) {
    const spec = JSON.parse(args[childIndex + 1]!) as ChildSpec | DissectSpec | FeatureVisSpec;
    if ('kind' in spec && spec.kind === 'dissect') await runMeasureChild(spec, measureDissection);
    else if ('kind' in spec && spec.kind === 'featurevis') await runMeasureChild(spec, measureFeatureVis);
    else await runChild(spec as ChildSpec);
    return;
  }
  const json = args.includes('--json');
  const quick = args.includes('--quick');

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-bench-'));
  let featureVis: FeatureVisBench | undefined;
  const report: BenchReport = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    quick,
    loadAverage: { start: os.loadavg()[0]!, end: 0 },
    models: [],
    dissection: [],
    skipped: [],
    torch: { available: false, reason: 'not run' },
  };
  try {
    log('saving the MobileNetV2-sized model (random weights)');
    const mobilenet = await saveMobileNetV2(path.join(tmp, 'mobilenetv2'), { seed: 1 });
    // --only-featurevis: this part alone (the others are unchanged by it).
    const only = args.includes('--only-featurevis');
    const specs: ChildSpec[] = only ? [] : [
      { name: 'digits', modelPath: path.join(ROOT, 'demo/digits/model/model.json'), quick, targets: false },
      { name: 'shapes', modelPath: path.join(ROOT, 'demo/shapes/model/model.json'), quick, targets: false },
      { name: 'mobilenetv2', modelPath: mobilenet, quick, targets: true },
    ];
    for (const spec of specs) {
      if (!fs.existsSync(spec.modelPath)) {
        report.skipped.push({ name: spec.name, reason: `${path.relative(ROOT, spec.modelPath)} does not exist (train the demo models first)` });
        log(`${spec.name}: skipped, ${spec.modelPath} does not exist`);
        continue;
      }
      log(`${spec.name}: measuring in a child process`);
      try {
        report.models.push(await benchInChild(spec));
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        report.skipped.push({ name: spec.name, reason });
        log(reason);
      }
    }
    if (!args.includes('--no-dissect') && !only) {
      const sizes = dissectionSizes(quick);
      for (const images of [...new Set([sizes.timed, sizes.small, sizes.large])]) {
        log(`dissection: ${images} probe images in a child process`);
        try {
          report.dissection.push(await benchInChild({ kind: 'dissect', name: `dissect-${images}`, modelPath: mobilenet, images }));
        } catch (error) {
          report.skipped.push({ name: `dissect-${images}`, reason: error instanceof Error ? error.message : String(error) });
        }
      }
    }
    if (!args.includes('--no-featurevis')) {
      log('feature visualisation: Lucid\'s recipe on the MobileNetV2-sized model in a child process');
      try {
        featureVis = await benchInChild({ kind: 'featurevis', name: 'featurevis', modelPath: mobilenet, steps: quick ? 64 : 512 });
      } catch (error) {
        report.skipped.push({ name: 'featurevis', reason: error instanceof Error ? error.message : String(error) });
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }

  report.torch = args.includes('--only-featurevis') ? { available: false, reason: 'not run (--only-featurevis)' } : detectAndRunTorch(quick);
  report.loadAverage.end = os.loadavg()[0]!;
  if (json) process.stdout.write(`${JSON.stringify({ ...report, featureVis, checks: targetChecks(report) }, null, 2)}\n`);
  else {
    process.stdout.write(renderTable(report) + [...renderDissection(report.dissection, quick), ...renderFeatureVis(featureVis, quick)]
      .map((l) => `${l}\n`).join(''));
  }
}

/**
 * The first python that imports torch. /usr/bin/python3 is tried too because Debian's
 * python3-torch is invisible to a pyenv/conda python3 that comes first on PATH.
 */
function findTorchPython(): string | undefined {
  const candidates = [process.env.LOUPE_BENCH_PYTHON, 'python3', '/usr/bin/python3'];
  for (const python of candidates) {
    if (!python) continue;
    const probe = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' });
    if (!probe.error && probe.status === 0) return python;
  }
  return undefined;
}

function detectAndRunTorch(quick: boolean): TorchPeer {
  const python = findTorchPython();
  if (!python) {
    return { available: false, reason: 'no python3 that can import torch (Debian: apt-get install python3-torch; or set LOUPE_BENCH_PYTHON)' };
  }
  log(`PyTorch peer: measuring the same MobileNetV2 in PyTorch (${python}, 2 threads)`);
  return runTorchPeer(python, path.join(ROOT, 'bench/torch_peer.py'), quick);
}

/** Runs one measurement in this child process and sends its result (or error) to the parent. */
async function runMeasureChild<S, R>(spec: S, measure: (spec: S, progress: (text: string) => void) => Promise<R>): Promise<void> {
  const send = (message: unknown) => new Promise<void>((resolve) => {
    if (process.send) process.send(message, undefined, undefined, () => resolve());
    else resolve(void process.stdout.write(`${JSON.stringify(message)}\n`)); // run by hand
  });
  try {
    await send({ kind: 'result', result: await measure(spec, (text) => void send({ kind: 'progress', text })) });
  } catch (error) {
    await send({ kind: 'error', error: error instanceof Error ? error.stack ?? error.message : String(error) });
  }
  if (process.connected) process.disconnect();
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? error.stack ?? error.message : String(error);
  process.stderr.write(`bench failed: ${message}\n`);
  process.exitCode = 1;
});

/**
 * `npm run bench`: costs of Loupe's engine per model and backend, against the performance targets and,
 * when python3 + torch + torchvision are installed, against the very same networks in PyTorch.
 *
 *   node dist/bench.js [--json] [--quick] [--no-dissect] [--no-tcav] [--no-featurevis] [--no-wasm] [--no-torch] [--only name,name] [--only-tcav]
 *
 * Models: the demo models (quick rows), a MobileNetV2-sized TF.js model built by the bench, and torchvision's
 * ResNet18 and MobileNetV2 exported to ONNX by bench/torch_peer.py (without PyTorch: a ResNet18 ONNX file
 * the bench writes itself). Each (model, backend) runs in its own child process (this bundle, forked with
 * `--child`) so that peak RSS is that row's own, not the sum of everything measured before it. Then network
 * dissection, TCAV and feature visualisation on the MobileNetV2-sized model, each in a child process too.
 */
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadOnnxRuntime, onnxRuntimeError } from '../src/engine/backends/onnxruntime/ortPasses';
import { runChild, send, type ChildSpec, type ModelBench } from './child';
import { dissectionSizes, measureDissection, renderDissection, type DissectBench, type DissectSpec } from './dissection';
import { saveMobileNetV2 } from './mobilenetv2';
import { CHECK_TOLERANCE, writeOrtLogits, writeSeededInput, type ReferenceSpec } from './reference';
import { renderTable, targetChecks, type BenchReport } from './report';
import { saveResNet18Onnx } from './resnet18';
import { measureFeatureVis, renderFeatureVis, type FeatureVisBench, type FeatureVisSpec } from './featureVis';
import { measureTcav, renderTcav, type TcavBench, type TcavSpec } from './tcav';
import { exportTorchModels, findTorchPython, runTorchFeatureVis, runTorchPeer, type TorchExport, type TorchModel } from './torchPeer';

const CHILD_TIMEOUT_MS = 15 * 60 * 1000;

/** Repository root: dist/bench.js and bench/main.ts both sit one level below it. */
const ROOT = path.resolve(__dirname, '..');
const TORCH_SCRIPT = path.join(ROOT, 'bench/torch_peer.py');
const MODEL_NAMES = ['digits', 'shapes', 'mobilenetv2-tfjs', 'resnet18', 'mobilenet_v2', 'dissection', 'tcav', 'featurevis'];

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

function benchInChild(spec: ChildSpec): Promise<ModelBench>;
function benchInChild(spec: DissectSpec): Promise<DissectBench>;
function benchInChild(spec: TcavSpec): Promise<TcavBench>;
function benchInChild(spec: FeatureVisSpec): Promise<FeatureVisBench>;
function benchInChild(spec: ChildSpec | DissectSpec | TcavSpec | FeatureVisSpec): Promise<ModelBench | DissectBench | TcavBench | FeatureVisBench> {
  const label = 'kind' in spec ? spec.name : `${spec.name} (${spec.backend})`;
  return new Promise((resolve, reject) => {
    const child = fork(process.argv[1]!, ['--child', JSON.stringify(spec)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result: ModelBench | DissectBench | TcavBench | FeatureVisBench | undefined;
    const timer = setTimeout(() => {
      log(`${label}: no result after ${CHILD_TIMEOUT_MS / 60000} min, stopping it`);
      child.kill('SIGKILL');
    }, CHILD_TIMEOUT_MS);
    child.on('message', (message) => {
      const m = message as { kind: string; result?: ModelBench | DissectBench | TcavBench | FeatureVisBench; error?: string; text?: string };
      if (m.kind === 'progress') log(`${label}: ${m.text}`);
      else if (m.kind === 'result') result = m.result;
      else if (m.kind === 'error') reject(new Error(`${label}: ${m.error}`));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (result) resolve(result);
      else reject(new Error(`${label}: child exited (${signal ?? code}) without a result`));
    });
  });
}

interface Options {
  json: boolean;
  quick: boolean;
  dissect: boolean;
  tcav: boolean;
  featureVis: boolean;
  wasm: boolean;
  torch: boolean;
  only?: Set<string>;
}

function parseArgs(args: string[]): Options {
  const known = new Set(['--json', '--quick', '--no-dissect', '--no-tcav', '--no-featurevis', '--no-wasm', '--no-torch', '--only', '--only-tcav']);
  for (const a of args) {
    if (a.startsWith('--') && !known.has(a)) throw new Error(`unknown option ${a} (known: ${[...known].join(' ')})`);
  }
  const onlyIndex = args.indexOf('--only');
  let only: Set<string> | undefined = args.includes('--only-tcav') ? new Set(['tcav']) : undefined;
  if (onlyIndex >= 0) {
    only = new Set((args[onlyIndex + 1] ?? '').split(',').filter(Boolean));
    const unknown = [...only].filter((n) => !MODEL_NAMES.includes(n));
    if (only.size === 0 || unknown.length > 0) throw new Error(`--only takes a comma-separated list of ${MODEL_NAMES.join(', ')}`);
  }
  return {
    json: args.includes('--json'),
    quick: args.includes('--quick'),
    dissect: !args.includes('--no-dissect'),
    tcav: !args.includes('--no-tcav'),
    featureVis: !args.includes('--no-featurevis'),
    wasm: !args.includes('--no-wasm'),
    torch: !args.includes('--no-torch'),
    ...(only ? { only } : {}),
  };
}

/** A model to time on each backend, and the PyTorch model (if any) timed after it. */
interface Entry {
  spec: Omit<ChildSpec, 'backend'>;
  /** Demo models run on one backend (the preferred one). */
  allBackends: boolean;
  peer?: TorchModel;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const childIndex = args.indexOf('--child');
  if (childIndex >= 0) {
    const spec = JSON.parse(args[childIndex + 1]!) as ChildSpec | DissectSpec | TcavSpec | FeatureVisSpec;
    if ('kind' in spec && spec.kind === 'dissect') await reportFromChild((progress) => measureDissection(spec, progress));
    else if ('kind' in spec && spec.kind === 'tcav') await reportFromChild((progress) => measureTcav(spec, progress));
    else if ('kind' in spec && spec.kind === 'featurevis') await reportFromChild((progress) => measureFeatureVis(spec, progress));
    else await runChild(spec as ChildSpec);
    return;
  }
  const options = parseArgs(args);
  const { quick } = options;
  const wanted = (name: string) => !options.only || options.only.has(name);

  let tcav: TcavBench | undefined;
  let featureVis: FeatureVisBench | undefined;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-bench-'));
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
    torch: { available: false, reason: options.torch ? 'not needed by the models measured' : 'not run (--no-torch)' },
  };
  const ort = loadOnnxRuntime();
  const backends: Array<'onnxruntime' | 'wasm'> = [];
  if (options.wasm) backends.push('wasm');
  if (ort) backends.push('onnxruntime');
  else report.skipped.push({ name: 'onnxruntime rows', reason: `ONNX Runtime does not load here: ${onnxRuntimeError()}` });
  if (backends.length === 0) throw new Error('no backend to measure: ONNX Runtime does not load and --no-wasm was given');
  const threads = os.availableParallelism();

  try {
    // PyTorch exports the networks it times, so Loupe and PyTorch run the same weights.
    const torchDir = path.join(tmp, 'torch');
    let exported: TorchExport | undefined;
    let python: string | undefined;
    if (options.torch && ['resnet18', 'mobilenet_v2', 'mobilenetv2-tfjs'].some(wanted)) {
      const found = findTorchPython();
      if ('python' in found) {
        log(`PyTorch: exporting torchvision resnet18 and mobilenet_v2 (${found.python})`);
        const result = exportTorchModels(found.python, TORCH_SCRIPT, torchDir, threads);
        if ('error' in result) report.torch = { available: false, reason: result.error };
        else {
          exported = result;
          python = found.python;
          report.torch = { available: true, torch: result.torch, torchvision: result.torchvision, models: {} };
        }
      } else {
        report.torch = { available: false, reason: found.reason };
      }
      if (!exported) log(`PyTorch peer not run: ${report.torch.available ? '' : report.torch.reason}`);
    }

    const entries: Entry[] = [];
    for (const demo of ['digits', 'shapes']) {
      entries.push({
        spec: { name: demo, modelPath: path.join(ROOT, `demo/${demo}/model/model.json`), source: 'demo, TF.js Layers', quick, targets: false, oneThreadRows: false },
        allBackends: false,
      });
    }
    let mobilenet: string | undefined;
    if (wanted('mobilenetv2-tfjs') || (options.dissect && wanted('dissection')) || (options.tcav && wanted('tcav'))
      || (options.featureVis && wanted('featurevis'))) {
      log('saving the MobileNetV2-sized TF.js model (random weights)');
      mobilenet = await saveMobileNetV2(path.join(tmp, 'mobilenetv2'), { seed: 1 });
      const input = path.join(tmp, 'mobilenetv2.input.npy');
      writeSeededInput(input, 224, 11);
      entries.push({
        spec: {
          name: 'mobilenetv2-tfjs', modelPath: mobilenet, source: 'TF.js Layers MobileNetV2 built by the bench', quick, targets: true,
          oneThreadRows: true, peer: { model: 'mobilenet_v2', identical: false },
          // The wasm row runs first and writes the figures the onnxruntime row is checked against.
          reference: { input, source: WASM_REFERENCE, logits: path.join(tmp, 'mobilenetv2.logits.npy'), gradient: path.join(tmp, 'mobilenetv2.grad_input.npy') },
        },
        allBackends: true,
        peer: 'mobilenet_v2',
      });
    }
    if (wanted('resnet18')) entries.push(await resnet18Entry(tmp, torchDir, exported, quick));
    if (wanted('mobilenet_v2') && exported) {
      entries.push({
        spec: {
          name: 'mobilenet_v2', modelPath: path.join(torchDir, 'mobilenet_v2.onnx'), source: 'torchvision mobilenet_v2, ONNX by torch.onnx.export',
          quick, targets: true, oneThreadRows: false, peer: { model: 'mobilenet_v2', identical: true }, reference: torchReference(torchDir, 'mobilenet_v2', exported),
        },
        allBackends: true,
        peer: 'mobilenet_v2',
      });
    }

    const peersRun = new Set<TorchModel>();
    for (const entry of entries.filter((e) => wanted(e.spec.name))) {
      const { spec } = entry;
      if (!fs.existsSync(spec.modelPath)) {
        report.skipped.push({ name: spec.name, reason: `${path.relative(ROOT, spec.modelPath)} does not exist (train the demo models first)` });
        continue;
      }
      for (const backend of entry.allBackends ? backends : [backends[backends.length - 1]!]) {
        log(`${spec.name} (${backend}): measuring in a child process`);
        const { reference, ...rest } = spec;
        const checked = referenceFor(reference, backend);
        try {
          report.models.push(await benchInChild({ ...rest, backend, ...(checked ? { reference: checked } : {}) }));
        } catch (error) {
          report.skipped.push({ name: `${spec.name} (${backend})`, reason: errorText(error) });
          log(errorText(error));
        }
      }
      // PyTorch right after Loupe's rows of the same network: the same machine conditions, as far as can be.
      if (entry.peer && python && report.torch.available && !peersRun.has(entry.peer)) {
        peersRun.add(entry.peer);
        log(`PyTorch: timing ${entry.peer} (${threads} threads)`);
        const peer = runTorchPeer(python, TORCH_SCRIPT, entry.peer, torchDir, quick, threads);
        report.torch.models[entry.peer] = peer;
        if ('error' in peer) log(peer.error);
      }
    }

    if (options.dissect && wanted('dissection') && mobilenet) {
      const sizes = dissectionSizes(quick);
      for (const images of [...new Set([sizes.timed, sizes.small, sizes.large])]) {
        log(`dissection: ${images} probe images in a child process`);
        try {
          report.dissection.push(await benchInChild({ kind: 'dissect', name: `dissect-${images}`, modelPath: mobilenet, images }));
        } catch (error) {
          report.skipped.push({ name: `dissect-${images}`, reason: errorText(error) });
        }
      }
    }
    if (options.tcav && wanted('tcav') && mobilenet) {
      log('TCAV: in a child process');
      try {
        tcav = await benchInChild({ kind: 'tcav', name: 'tcav', modelPath: mobilenet, quick });
      } catch (error) {
        report.skipped.push({ name: 'tcav', reason: errorText(error) });
      }
    }
    if (options.featureVis && wanted('featurevis') && mobilenet) {
      log('feature visualisation: Lucid\'s recipe in a child process');
      try {
        const steps = quick ? 64 : 512;
        featureVis = await benchInChild({ kind: 'featurevis', name: 'featurevis', modelPath: mobilenet, steps });
        // PyTorch right after, in the same run: the ratio compares the same machine conditions, as far as can be.
        const found = options.torch ? findTorchPython() : { reason: 'not run (--no-torch)' };
        if ('python' in found) {
          // Its steps all cost the same: 128 of them give the per-step time (512 took > 30 min on a busy machine).
          const torchSteps = Math.min(steps, 128);
          log(`PyTorch: Lucid's feature visualisation recipe (Lucent), ${torchSteps} steps (${threads} threads)`);
          featureVis.torch = runTorchFeatureVis(found.python, TORCH_SCRIPT, torchSteps, threads);
        } else {
          featureVis.torch = { error: found.reason };
        }
      } catch (error) {
        report.skipped.push({ name: 'featurevis', reason: errorText(error) });
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }

  report.loadAverage.end = os.loadavg()[0]!;
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ ...report, checks: targetChecks(report), ...(tcav ? { tcav } : {}), ...(featureVis ? { featureVis } : {}) }, null, 2)}\n`);
  } else {
    process.stdout.write(renderTable(report) + [...renderDissection(report.dissection, quick), ...renderTcav(tcav, quick), ...renderFeatureVis(featureVis, quick)]
      .map((l) => `${l}\n`).join(''));
  }
}

const WASM_REFERENCE = 'the wasm engine';

/** The wasm row of a model without an outside reference writes one; the onnxruntime row is checked against it. */
function referenceFor(reference: ReferenceSpec | undefined, backend: 'onnxruntime' | 'wasm'): ReferenceSpec | undefined {
  if (!reference || reference.source !== WASM_REFERENCE) return reference;
  if (backend === 'wasm') return { ...reference, produce: true };
  return fs.existsSync(reference.logits) ? reference : undefined;
}

/**
 * PyTorch's logits (float32) and gradient (float64). The gradient's tolerance grows with how precisely float32
 * arithmetic can give it at all (PyTorch's own float32 error, ×4): 1e-4 for ResNet18, ~4e-2 for the random MobileNetV2.
 */
function torchReference(dir: string, name: TorchModel, exported: TorchExport): ReferenceSpec {
  const noise = exported.models[name].gradientNoise;
  const value = Math.max(CHECK_TOLERANCE, 4 * noise);
  return {
    input: path.join(dir, `${name}.input.npy`), source: 'PyTorch',
    logits: path.join(dir, `${name}.logits.npy`), gradient: path.join(dir, `${name}.grad_input.npy`),
    ...(value > CHECK_TOLERANCE ? { gradientTolerance: { value, why: `4× PyTorch's own float32 error ${noise.toExponential(1)}` } } : {}),
  };
}

/** ResNet18 from PyTorch's export; without PyTorch, the bench writes it and ONNX Runtime (on the file as written) gives the reference logits. */
async function resnet18Entry(tmp: string, torchDir: string, exported: TorchExport | undefined, quick: boolean): Promise<Entry> {
  const common = { name: 'resnet18', quick, targets: true, oneThreadRows: false };
  if (exported) {
    return {
      spec: {
        ...common, modelPath: path.join(torchDir, 'resnet18.onnx'), source: 'torchvision resnet18, ONNX by torch.onnx.export',
        peer: { model: 'resnet18', identical: true }, reference: torchReference(torchDir, 'resnet18', exported),
      },
      allBackends: true,
      peer: 'resnet18',
    };
  }
  log('writing the ResNet18 ONNX file (torchvision architecture, random weights)');
  const dir = path.join(tmp, 'resnet18');
  fs.mkdirSync(dir);
  const modelPath = saveResNet18Onnx(path.join(dir, 'resnet18.onnx'));
  const input = path.join(dir, 'resnet18.input.npy');
  writeSeededInput(input, 224, 12);
  const ort = loadOnnxRuntime();
  let reference: ReferenceSpec | undefined;
  if (ort) {
    const logits = path.join(dir, 'resnet18.logits.npy');
    await writeOrtLogits(ort, modelPath, input, logits);
    reference = { input, source: 'ONNX Runtime on the file as written', logits };
  }
  return { spec: { ...common, modelPath, source: 'ResNet18 ONNX written by the bench (torchvision architecture)', ...(reference ? { reference } : {}) }, allBackends: true };
}

/** Sends `measure`'s result (or its error) to the parent, then leaves. */
async function reportFromChild(measure: (progress: (text: string) => void) => Promise<unknown>): Promise<void> {
  try {
    await send({ kind: 'result', result: await measure((text) => void send({ kind: 'progress', text })) });
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

/** Command-line parsing for `loupe`: turns argv into a command or a UsageError (exit code 2). */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { BACKEND_PREFERENCES } from '../protocol/types';
import { parseBlocks, parseVisualize, type BlocksCommand, type VisualizeCommand } from './visualArgs';
import { BLOCKS_HELP, VISUAL_HELP } from './visualHelp';
import type {
  BackendPreference, DissectOptions, ExplainOptions, IgBaseline, MethodId, MethodParams, Preprocessing, TargetKind,
} from '../protocol/types';
import { TCAV_CAV_KINDS, type TcavConceptSpec, type TcavOptions } from '../protocol/tcav';

export class UsageError extends Error {
  override name = 'UsageError';
}

/** Methods the CLI accepts, in the order they run by default. */
export const CLI_METHODS: readonly MethodId[] = [
  'gradient', 'gradxinput', 'smoothgrad', 'smoothgrad-sq', 'vargrad', 'ig', 'guided-backprop', 'deconvnet',
  'cam', 'gradcam', 'guided-gradcam', 'occlusion',
];
/** Default: every method of the brief's list except occlusion (slow: one forward pass per window). */
export const DEFAULT_METHODS: readonly MethodId[] = [
  'gradient', 'gradxinput', 'smoothgrad', 'ig', 'guided-backprop', 'deconvnet', 'cam', 'gradcam', 'guided-gradcam',
];
const TARGETS: readonly TargetKind[] = ['logit', 'probability'];
const BASELINES: readonly IgBaseline[] = ['black', 'blurred', 'uniform'];
const BACKENDS = BACKEND_PREFERENCES;

export const HELP = `loupe — explain what an image model looks at

Usage:
  loupe explain --model MODEL.json --image IMAGE --out DIR [options]
  loupe describe --model MODEL.json [--json]
  loupe dissect --model MODEL.json --layer NAME --out DIR [options]
  loupe tcav --model MODEL.json --class C --images DIR --concepts LIST --layers LIST --out DIR [options]
  loupe visualize --model MODEL.json --layer NAME --unit N --out DIR [options]
  loupe blocks --model MODEL.json --image IMAGE --layer NAME --out DIR [options]
  loupe --help | --version

explain options:
  --method LIST      comma-separated, from: ${CLI_METHODS.join(', ')}
                     (default: ${DEFAULT_METHODS.join(',')})
  --class INDEX      target class (default: the top prediction)
  --target KIND      logit | probability (default: logit)
  --layer NAME       layer for Grad-CAM (default: the last convolutional layer)
  --samples N        SmoothGrad samples (default 25)
  --sigma S          SmoothGrad noise, fraction of the input range (default 0.15)
  --steps N          Integrated Gradients steps (default 50)
  --baseline B       Integrated Gradients baseline: black | blurred | uniform (default black)
  --window N         occlusion window side in pixels (default: 1/8 of the image)
  --stride N         occlusion stride in pixels (default: half a window)
  --seed N           seed of every random draw (default 0)
  --top-k N          predictions listed in summary.json (default 5)
  --sanity           also run the model-randomisation sanity check (Adebayo et al. 2018)
  --preprocessing J  JSON over the model's loupe.json "input", e.g. '{"mean": [0.5], "std": [0.5]}'
  --backend B        auto | onnxruntime | wasm | cpu (default auto)
  --out DIR          folder for <method>.npy, <method>.png, input.png, summary.json

describe options:
  --json             print the full model description as JSON

dissect options (network dissection, Bau et al. 2017; NetDissect's defaults):
  --layer NAME       convolutional layer whose units are labelled
  --probe P          builtin (generated colours, textures, shapes) or the path of a
                     Broden-format dataset or of a folder of concept folders (default builtin)
  --images N         built-in probe: number of images (default 1000); a dataset: use the first N
  --size N           built-in probe: image side in pixels (default 112)
  --probe-seed N     built-in probe: seed (default 1)
  --quantile Q       top quantile of activations forming a unit's mask (default 0.005)
  --iou-threshold T  IoU above which a unit counts as a detector (default 0.04)
  --top N            probe images shown per unit (default 8)
  --units LIST       comma-separated unit indices (default: all)
  --refresh          recompute even when a cached result exists
  --preprocessing J  as for explain (part of the cache key)
  --out DIR          folder for tally.csv, report.html, result.json and units/*.png

tcav options (Kim et al. 2018; does the class depend on a concept at a layer?):
  --class C          the class explained: its index or its label
  --images DIR       folder of images of that class
  --concepts LIST    comma-separated concept folders (a folder of a concept's images, or of
                     one sub-folder per concept) and built-in concepts: builtin:red,
                     builtin:horizontal-stripes, builtin:circle, … (builtin:random is a control)
  --random R         builtin (generated scenes, default) or a folder of varied images to draw
                     random sets from (or of sub-folders, each a random set as given)
  --layers LIST      comma-separated layer names (spatial or dense)
  --runs N           random runs: N concept-vs-random and N random-vs-random CAVs (default 20)
  --images-per-set K images per set, both sets of a CAV truncated to the same size (default 50)
  --cav KIND         logistic (default) | sgd (hinge, alpha 0.01, as tensorflow/tcav) | mean (FastCAV)
  --alpha A          significance level before the Bonferroni correction (default 0.05)
  --seed S           seed of every draw: same seed, same results (default 0)
  --refresh          recompute even when a cached result exists
  --preprocessing J  as for explain (part of the cache key)
  --out DIR          folder for tcav.csv, tcav.json and tcav.png

${VISUAL_HELP}${BLOCKS_HELP}
Exit codes: 0 success, 1 the model/image/run failed, 2 usage error.
`;

export interface ExplainCommand {
  kind: 'explain';
  model: string;
  image: string;
  out: string;
  backend: BackendPreference;
  options: ExplainOptions;
}
export interface DescribeCommand { kind: 'describe'; model: string; json: boolean; backend: BackendPreference }
export interface DissectCommand {
  kind: 'dissect';
  model: string;
  out: string;
  backend: BackendPreference;
  options: DissectOptions;
}
export interface TcavCommand {
  kind: 'tcav';
  model: string;
  out: string;
  backend: BackendPreference;
  /** The class as given: an index, or a label the engine's model description resolves. */
  classArg: string;
  /** Everything but the class index, which needs the model's labels. */
  options: Omit<TcavOptions, 'classIndex'>;
}
export type Command = ExplainCommand | DescribeCommand | DissectCommand | TcavCommand | VisualizeCommand | BlocksCommand
  | { kind: 'help' } | { kind: 'version' };

const EXPLAIN_OPTIONS = {
  model: { type: 'string' }, image: { type: 'string' }, out: { type: 'string' },
  method: { type: 'string' }, class: { type: 'string' }, target: { type: 'string' }, layer: { type: 'string' },
  samples: { type: 'string' }, sigma: { type: 'string' }, steps: { type: 'string' }, baseline: { type: 'string' },
  window: { type: 'string' }, stride: { type: 'string' }, seed: { type: 'string' }, 'top-k': { type: 'string' },
  sanity: { type: 'boolean' }, preprocessing: { type: 'string' }, backend: { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;
const DISSECT_OPTIONS = {
  model: { type: 'string' }, layer: { type: 'string' }, out: { type: 'string' }, probe: { type: 'string' },
  images: { type: 'string' }, size: { type: 'string' }, 'probe-seed': { type: 'string' }, quantile: { type: 'string' },
  'iou-threshold': { type: 'string' }, top: { type: 'string' }, units: { type: 'string' }, refresh: { type: 'boolean' },
  preprocessing: { type: 'string' }, backend: { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;
const TCAV_OPTIONS = {
  model: { type: 'string' }, class: { type: 'string' }, images: { type: 'string' }, concepts: { type: 'string' },
  random: { type: 'string' }, layers: { type: 'string' }, runs: { type: 'string' }, 'images-per-set': { type: 'string' },
  cav: { type: 'string' }, alpha: { type: 'string' }, seed: { type: 'string' }, refresh: { type: 'boolean' },
  preprocessing: { type: 'string' }, backend: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;
const DESCRIBE_OPTIONS = {
  model: { type: 'string' }, json: { type: 'boolean' }, backend: { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

export function choice<T extends string>(value: string | undefined, allowed: readonly T[], flag: string): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`--${flag} must be one of ${allowed.join(', ')} (got '${value}')`);
  }
  return value as T;
}

export function integer(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim())) throw new UsageError(`--${flag} needs a non-negative integer (got '${value}')`);
  return Number(value);
}

function positiveNumber(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new UsageError(`--${flag} needs a positive number (got '${value}')`);
  return n;
}

/** --preprocessing: a JSON object; its keys and values are checked by the engine, like loupe.json's "input". */
export function preprocessing(value: string | undefined): Partial<Preprocessing> | undefined {
  if (value === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    throw new UsageError(`--preprocessing needs JSON, e.g. '{"range": [-1, 1]}' (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`--preprocessing needs a JSON object, e.g. '{"range": [-1, 1]}' (got ${value})`);
  }
  return parsed as Partial<Preprocessing>;
}

export function required(value: string | undefined, flag: string, command: string): string {
  if (value === undefined || value === '') throw new UsageError(`${command} needs --${flag}`);
  return value;
}

/** parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes for unknown or malformed flags. */
export function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) throw new UsageError((err as Error).message);
    throw err;
  }
}

export function parseCommand(argv: string[]): Command {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') return { kind: 'help' };
  if (first === '--version' || first === '-v') return { kind: 'version' };

  if (first === 'describe') {
    const { values } = parse(rest, DESCRIBE_OPTIONS);
    if (values.help) return { kind: 'help' };
    return {
      kind: 'describe',
      model: required(values.model, 'model', 'describe'),
      json: values.json ?? false,
      backend: choice(values.backend, BACKENDS, 'backend') ?? 'auto',
    };
  }

  if (first === 'explain') {
    const { values: v } = parse(rest, EXPLAIN_OPTIONS);
    if (v.help) return { kind: 'help' };
    const methods = v.method === undefined
      ? [...DEFAULT_METHODS]
      : v.method.split(',').map((m) => m.trim()).filter((m) => m !== '')
        .map((m) => choice(m, CLI_METHODS, 'method')!);
    if (methods.length === 0) throw new UsageError('--method needs at least one method');
    const params: Partial<MethodParams> = {};
    const samples = integer(v.samples, 'samples');
    if (samples !== undefined) params.samples = samples;
    const sigma = positiveNumber(v.sigma, 'sigma');
    if (sigma !== undefined) params.sigma = sigma;
    const steps = integer(v.steps, 'steps');
    if (steps !== undefined) params.steps = steps;
    const baseline = choice(v.baseline, BASELINES, 'baseline');
    if (baseline !== undefined) params.baseline = baseline;
    const window = integer(v.window, 'window');
    if (window !== undefined) params.window = window;
    const stride = integer(v.stride, 'stride');
    if (stride !== undefined) params.stride = stride;
    const seed = integer(v.seed, 'seed');
    if (seed !== undefined) params.seed = seed;

    const options: ExplainOptions = { methods, params };
    const classIndex = integer(v.class, 'class');
    if (classIndex !== undefined) options.classIndex = classIndex;
    const target = choice(v.target, TARGETS, 'target');
    if (target !== undefined) options.target = target;
    if (v.layer !== undefined) options.layer = v.layer;
    if (v.sanity) options.sanity = true;
    const topK = integer(v['top-k'], 'top-k');
    if (topK !== undefined) options.topK = topK;
    const pre = preprocessing(v.preprocessing);
    if (pre !== undefined) options.preprocessing = pre;
    return {
      kind: 'explain',
      model: required(v.model, 'model', 'explain'),
      image: required(v.image, 'image', 'explain'),
      out: required(v.out, 'out', 'explain'),
      backend: choice(v.backend, BACKENDS, 'backend') ?? 'auto',
      options,
    };
  }

  if (first === 'dissect') {
    const { values: v } = parse(rest, DISSECT_OPTIONS);
    if (v.help) return { kind: 'help' };
    const images = integer(v.images, 'images');
    const probeArg = v.probe ?? 'builtin';
    const options: DissectOptions = {
      layer: required(v.layer, 'layer', 'dissect'),
      probe: probeArg === 'builtin'
        ? {
          kind: 'builtin',
          ...(images !== undefined ? { count: images } : {}),
          ...(v.size !== undefined ? { size: integer(v.size, 'size')! } : {}),
          ...(v['probe-seed'] !== undefined ? { seed: integer(v['probe-seed'], 'probe-seed')! } : {}),
        }
        : { kind: 'path', path: probeArg, ...(images !== undefined ? { limit: images } : {}) },
    };
    const quantile = positiveNumber(v.quantile, 'quantile');
    if (quantile !== undefined) options.quantile = quantile;
    const iouThreshold = positiveNumber(v['iou-threshold'], 'iou-threshold');
    if (iouThreshold !== undefined) options.iouThreshold = iouThreshold;
    const top = integer(v.top, 'top');
    if (top !== undefined) options.topImages = top;
    if (v.units !== undefined) options.units = v.units.split(',').map((u) => integer(u, 'units')!);
    if (v.refresh) options.refresh = true;
    const pre = preprocessing(v.preprocessing);
    if (pre !== undefined) options.preprocessing = pre;
    return {
      kind: 'dissect',
      model: required(v.model, 'model', 'dissect'),
      out: required(v.out, 'out', 'dissect'),
      backend: choice(v.backend, BACKENDS, 'backend') ?? 'auto',
      options,
    };
  }

  if (first === 'tcav') return parseTcav(rest);
  // ── feature visualisation and Building Blocks (visualArgs.ts) ──
  if (first === 'visualize') return parseVisualize(rest);
  if (first === 'blocks') return parseBlocks(rest);

  throw new UsageError(`unknown command '${first}' (commands: explain, describe, dissect, tcav, visualize, blocks)`);
}

function list(value: string | undefined, flag: string, command: string): string[] {
  const items = required(value, flag, command).split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new UsageError(`--${flag} needs at least one item`);
  return items;
}

function parseTcav(args: string[]): Command {
  const { values: v } = parse(args, TCAV_OPTIONS);
  if (v.help) return { kind: 'help' };
  const concepts: TcavConceptSpec[] = list(v.concepts, 'concepts', 'tcav').map((c) => (c.startsWith('builtin:')
    ? { kind: 'builtin', name: c.slice('builtin:'.length) }
    : { kind: 'folder', path: c }));
  const options: Omit<TcavOptions, 'classIndex'> = {
    classImages: required(v.images, 'images', 'tcav'),
    concepts,
    random: v.random === undefined || v.random === 'builtin' ? { kind: 'builtin' } : { kind: 'folder', path: v.random },
    layers: list(v.layers, 'layers', 'tcav'),
  };
  const runs = integer(v.runs, 'runs');
  if (runs !== undefined) options.runs = runs;
  const perSet = integer(v['images-per-set'], 'images-per-set');
  if (perSet !== undefined) options.imagesPerSet = perSet;
  const cav = choice(v.cav, TCAV_CAV_KINDS, 'cav');
  if (cav !== undefined) options.cav = cav;
  const alpha = positiveNumber(v.alpha, 'alpha');
  if (alpha !== undefined) options.alpha = alpha;
  const seed = integer(v.seed, 'seed');
  if (seed !== undefined) options.seed = seed;
  if (v.refresh) options.refresh = true;
  const pre = preprocessing(v.preprocessing);
  if (pre !== undefined) options.preprocessing = pre;
  return {
    kind: 'tcav',
    model: required(v.model, 'model', 'tcav'),
    out: required(v.out, 'out', 'tcav'),
    backend: choice(v.backend, BACKENDS, 'backend') ?? 'auto',
    classArg: required(v.class, 'class', 'tcav'),
    options,
  };
}

/** Command-line parsing for `loupe visualize` and `loupe blocks` (feature visualisation, Building Blocks). */
import type { BlocksOptions } from '../protocol/blocks';
import type { FeatureVisOptions, FeatureVisParams, FeatureVisTerm } from '../protocol/featureVis';
import { BACKEND_PREFERENCES, type BackendPreference } from '../protocol/types';
import { choice, integer as whole, parse as parseFlags, preprocessing as preprocessingFlag, required as need, UsageError } from './args';

export interface VisualizeCommand {
  kind: 'visualize';
  model: string;
  out: string;
  unit: number;
  backend: BackendPreference;
  options: FeatureVisOptions;
}

const VISUALIZE_OPTIONS = {
  model: { type: 'string' }, layer: { type: 'string' }, unit: { type: 'string' }, objective: { type: 'string' },
  vector: { type: 'string' }, cosine: { type: 'boolean' }, x: { type: 'string' }, y: { type: 'string' },
  diversity: { type: 'string' }, 'diversity-weight': { type: 'string' }, steps: { type: 'string' }, size: { type: 'string' },
  lr: { type: 'string' }, seed: { type: 'string' }, refresh: { type: 'boolean' }, preprocessing: { type: 'string' },
  backend: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

function real(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${flag} needs a number (got '${value}')`);
  return n;
}

export function parseVisualize(args: string[]): VisualizeCommand | { kind: 'help' } {
  const { values: v } = parseFlags(args, VISUALIZE_OPTIONS);
  if (v.help) return { kind: 'help' };
  const layer = need(v.layer, 'layer', 'visualize');
  const unit = whole(need(v.unit, 'unit', 'visualize'), 'unit')!;
  const kind = v.objective ?? 'channel';
  const y = whole(v.y, 'y');
  const x = whole(v.x, 'x');
  const at = { ...(y !== undefined ? { y } : {}), ...(x !== undefined ? { x } : {}) };
  let term: FeatureVisTerm;
  if (kind === 'channel') term = { kind: 'channel', layer, unit };
  else if (kind === 'neuron') term = { kind: 'neuron', layer, unit, ...at };
  else if (kind === 'direction') {
    const vector = v.vector === undefined ? undefined : v.vector.split(',').map((s) => real(s, 'vector')!);
    // Without --vector the direction is the unit's one-hot vector (filled in by the CLI once the layer's width is known).
    term = { kind: 'direction', layer, vector: vector ?? [], ...(v.cosine ? { similarity: 'cosine' } : {}), ...at };
  } else {
    throw new UsageError(`--objective must be one of channel, neuron, direction (got '${kind}')`);
  }
  const objective: FeatureVisTerm[] = [term];
  const params: Partial<FeatureVisParams> = {};
  const diversity = whole(v.diversity, 'diversity');
  if (diversity !== undefined) {
    if (diversity < 2) throw new UsageError('--diversity needs at least 2 images');
    params.batch = diversity;
    objective.push({ kind: 'diversity', layer, weight: -(real(v['diversity-weight'], 'diversity-weight') ?? 100) });
  }
  const steps = whole(v.steps, 'steps');
  if (steps !== undefined) params.steps = steps;
  const size = whole(v.size, 'size');
  if (size !== undefined) params.size = size;
  const lr = real(v.lr, 'lr');
  if (lr !== undefined) params.lr = lr;
  const seed = whole(v.seed, 'seed');
  if (seed !== undefined) params.seed = seed;
  const pre = preprocessingFlag(v.preprocessing);
  return {
    kind: 'visualize',
    model: need(v.model, 'model', 'visualize'),
    out: need(v.out, 'out', 'visualize'),
    unit,
    backend: choice(v.backend, BACKEND_PREFERENCES, 'backend') ?? 'auto',
    options: { objective, params, ...(v.refresh ? { refresh: true } : {}), ...(pre ? { preprocessing: pre } : {}) },
  };
}

export interface BlocksCommand {
  kind: 'blocks';
  model: string;
  image: string;
  out: string;
  backend: BackendPreference;
  options: BlocksOptions;
}

const BLOCKS_OPTIONS = {
  model: { type: 'string' }, image: { type: 'string' }, layer: { type: 'string' }, groups: { type: 'string' },
  class: { type: 'string' }, versus: { type: 'string' }, to: { type: 'string' }, 'path-steps': { type: 'string' },
  top: { type: 'string' }, preprocessing: { type: 'string' }, backend: { type: 'string' }, out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function parseBlocks(args: string[]): BlocksCommand | { kind: 'help' } {
  const { values: v } = parseFlags(args, BLOCKS_OPTIONS);
  if (v.help) return { kind: 'help' };
  const options: BlocksOptions = { layer: need(v.layer, 'layer', 'blocks') };
  const groups = whole(v.groups, 'groups');
  if (groups !== undefined) options.groups = groups;
  const classIndex = whole(v.class, 'class');
  if (classIndex !== undefined) options.classIndex = classIndex;
  const versus = whole(v.versus, 'versus');
  if (versus !== undefined) options.versusClass = versus;
  if (v.to !== undefined) options.toLayer = v.to;
  const pathSteps = whole(v['path-steps'], 'path-steps');
  if (pathSteps !== undefined) options.pathSteps = pathSteps;
  const top = whole(v.top, 'top');
  if (top !== undefined) options.dictionaryTop = top;
  const pre = preprocessingFlag(v.preprocessing);
  if (pre) options.preprocessing = pre;
  return {
    kind: 'blocks',
    model: need(v.model, 'model', 'blocks'),
    image: need(v.image, 'image', 'blocks'),
    out: need(v.out, 'out', 'blocks'),
    backend: choice(v.backend, BACKEND_PREFERENCES, 'backend') ?? 'auto',
    options,
  };
}

import type { DissectOptions, ProbeSpec } from '../../protocol/types';
import { LoupeError } from '../../protocol/errors';
import { BUILTIN_PROBE_DEFAULTS } from './probe/builtin';

/** NetDissect's defaults (rundissect.sh / NetDissect-Lite settings.py). */
export const DISSECT_DEFAULTS = Object.freeze({ quantile: 0.005, iouThreshold: 0.04, topImages: 8 });

export interface ResolvedDissectOptions {
  layer: string;
  probe: ProbeSpec;
  quantile: number;
  iouThreshold: number;
  topImages: number;
  units?: number[];
  refresh: boolean;
}

function bad(message: string, hint?: string): LoupeError {
  return new LoupeError('BAD_REQUEST', message, undefined, hint);
}

function inRange(name: string, value: unknown, fallback: number, lo: number, hi: number, integer = false): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= lo || value > hi || (integer && !Number.isInteger(value))) {
    throw bad(`${name} must be ${integer ? 'an integer' : 'a number'} in (${lo}, ${hi}] (got ${JSON.stringify(value)})`);
  }
  return value;
}

function resolveProbe(probe: unknown): ProbeSpec {
  if (probe === undefined || probe === null) return { kind: 'builtin' };
  const p = probe as Record<string, unknown>;
  if (p.kind === 'builtin') {
    const opt = (k: 'count' | 'size' | 'seed') => (p[k] === undefined ? {} : { [k]: p[k] as number });
    return { kind: 'builtin', ...opt('count'), ...opt('size'), ...opt('seed') };
  }
  if (p.kind === 'path' && typeof p.path === 'string' && p.path.length > 0) {
    const limit = p.limit === undefined ? undefined : inRange('probe.limit', p.limit, 0, 0, 1e7, true);
    return { kind: 'path', path: p.path, ...(limit ? { limit } : {}) };
  }
  throw bad(`probe must be {kind: 'builtin'} or {kind: 'path', path} (got ${JSON.stringify(probe)})`);
}

/** Validates options that arrive from untrusted callers (webview settings, CLI flags, RPC). */
export function resolveDissectOptions(options: DissectOptions, channels: number): ResolvedDissectOptions {
  if (typeof options?.layer !== 'string' || options.layer.length === 0) throw bad('layer must be the name of a convolutional layer');
  if (options.units !== undefined && !Array.isArray(options.units)) throw bad(`units must be a list of channel indices of layer '${options.layer}'`);
  const units = options.units === undefined ? undefined : [...new Set(options.units)].sort((a, b) => a - b);
  if (units && (units.length === 0 || units.some((u) => !Number.isInteger(u) || u < 0 || u >= channels))) {
    throw bad(`units must list channel indices 0–${channels - 1} of layer '${options.layer}'`);
  }
  return {
    layer: options.layer,
    probe: resolveProbe(options.probe),
    quantile: inRange('quantile', options.quantile, DISSECT_DEFAULTS.quantile, 0, 0.5),
    iouThreshold: inRange('iouThreshold', options.iouThreshold, DISSECT_DEFAULTS.iouThreshold, 0, 1),
    topImages: inRange('topImages', options.topImages, DISSECT_DEFAULTS.topImages, 0, 32, true),
    ...(units ? { units } : {}),
    refresh: options.refresh === true,
  };
}

export { BUILTIN_PROBE_DEFAULTS };

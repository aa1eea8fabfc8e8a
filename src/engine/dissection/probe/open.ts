import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ProbeSpec } from '../../../protocol/types';
import { LoupeError } from '../../../protocol/errors';
import type { DecodeOptions } from '../../image/decode';
import { openBroden } from './broden';
import { builtinProbe } from './builtin';
import { openFolders } from './folders';
import type { ProbeDataset } from './types';

/** The probe set a spec names: the generator, a Broden folder (it has index.csv), or concept folders. */
export function openProbe(spec: ProbeSpec, decode: DecodeOptions): ProbeDataset {
  if (spec.kind === 'builtin') return builtinProbe(spec);
  const root = path.resolve(spec.path);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(root);
  } catch {
    throw new LoupeError('BAD_REQUEST', 'probe dataset folder not found', root, 'give a Broden folder or a folder of concept folders');
  }
  if (!stat.isDirectory()) throw new LoupeError('BAD_REQUEST', 'is not a folder', root, 'give a Broden folder or a folder of concept folders');
  const broden = ['index.csv', 'category.csv', 'label.csv'].some((f) => fs.existsSync(path.join(root, f)));
  return broden ? openBroden(root, decode, spec.limit) : openFolders(root, decode, spec.limit);
}

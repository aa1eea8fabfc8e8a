import * as crypto from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { LoupeError } from '../../protocol/errors';
import { isWithin } from '../io/untrusted';

/** One output file: its name relative to the output folder, and its bytes or the file to copy them from. */
export type RunFile = { name: string; bytes: Buffer | string } | { name: string; copyFrom: string };

/**
 * Writes a run's files into `outDir` (created if needed): every file is first written (and synced) in a
 * staging folder inside `outDir`, then renamed into place once all exist, so a failed run leaves the
 * previous run's files, never a mixture. A rename replaces a symlink that sits at a file's name rather
 * than writing through it, and a subfolder that resolves outside `outDir` is refused: nothing is
 * written outside the folder asked for. Returns the paths written, in order.
 */
export async function writeRunFiles(outDir: string, files: RunFile[]): Promise<string[]> {
  const root = path.resolve(outDir);
  const fail = (e: unknown): never => {
    if (e instanceof LoupeError) throw e;
    throw new LoupeError('BAD_REQUEST', `cannot write the outputs: ${(e as Error).message}`, root, 'choose a folder you can write to');
  };
  let staging: string | undefined;
  try {
    await fs.mkdir(root, { recursive: true });
    const realRoot = await fs.realpath(root);
    staging = await fs.mkdtemp(path.join(root, `.loupe-run-${crypto.randomBytes(3).toString('hex')}-`));
    const staged: Array<[string, string]> = [];
    for (const [i, f] of files.entries()) {
      const target = path.resolve(root, f.name);
      if (!isWithin(root, target) || target === root) throw new LoupeError('BAD_REQUEST', `output name '${f.name}' leaves the output folder`, root);
      const tmp = path.join(staging, String(i));
      if ('copyFrom' in f) await fs.copyFile(f.copyFrom, tmp);
      else await fs.writeFile(tmp, f.bytes);
      const fh = await fs.open(tmp, 'r+');
      try { await fh.sync(); } finally { await fh.close(); } // the rename must not reach the disk before the data
      staged.push([tmp, target]);
    }
    const written: string[] = [];
    for (const [tmp, target] of staged) {
      const parent = path.dirname(target);
      await fs.mkdir(parent, { recursive: true });
      const realParent = await fs.realpath(parent);
      if (!isWithin(realRoot, realParent)) {
        throw new LoupeError('BAD_REQUEST', `the folder ${parent} is a link to ${realParent}, outside the output folder`, root,
          'remove the link or choose another output folder');
      }
      await fs.rename(tmp, target);
      written.push(target);
    }
    return written;
  } catch (e) {
    return fail(e);
  } finally {
    if (staging) await fs.rm(staging, { recursive: true, force: true }).catch(() => undefined);
  }
}

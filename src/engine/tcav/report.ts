/** The CLI's outputs: the entry's tcav.csv, tcav.json and tcav.png copied to the folder asked for. */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { TcavResult } from '../../protocol/tcav';
import { TCAV_FILES } from './run';

export async function copyTcavFiles(result: Pick<TcavResult, 'dir'>, outDir: string): Promise<string[]> {
  await fs.mkdir(outDir, { recursive: true });
  const written: string[] = [];
  for (const name of TCAV_FILES) {
    const target = path.join(outDir, name);
    const tmp = `${target}.${process.pid}.tmp`;
    await fs.copyFile(path.join(result.dir, name), tmp);
    await fs.rename(tmp, target);
    written.push(target);
  }
  return written;
}

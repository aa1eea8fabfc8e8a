/** The CLI's outputs: the entry's tcav.csv, tcav.json and tcav.png copied to the folder asked for. */
import * as path from 'node:path';
import type { TcavResult } from '../../protocol/tcav';
import { TCAV_FILES } from './run';
import { writeRunFiles } from '../output/runFiles';

export async function copyTcavFiles(result: Pick<TcavResult, 'dir'>, outDir: string): Promise<string[]> {
  return writeRunFiles(outDir, TCAV_FILES.map((name) => ({ name, copyFrom: path.join(result.dir, name) })));
}

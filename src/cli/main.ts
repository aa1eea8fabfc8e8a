/**
 * `loupe`: the engine from a terminal (no worker: one run per process).
 * Exit codes: 0 success, 1 a LoupeError (bad model, image, parameters), 2 a usage error.
 */
import { version } from '../../package.json';
import { LoupeError } from '../protocol/errors';
import { HELP, parseCommand, UsageError, type DescribeCommand, type DissectCommand, type ExplainCommand, type TcavCommand } from './args';
import { describeTable, dissectTable, explainTable, tcavTable } from './format';

const out = (text: string) => process.stdout.write(text);
const err = (text: string) => process.stderr.write(text);

/** Loaded on demand: TF.js takes ~0.4 s to import, which --help and usage errors should not pay. */
async function createEngine(backend: DescribeCommand['backend']) {
  const { Engine } = await import('../engine/engine');
  return Engine.create({ backend });
}

async function describe(cmd: DescribeCommand): Promise<void> {
  const engine = await createEngine(cmd.backend);
  const description = await engine.describe(cmd.model);
  out(cmd.json ? JSON.stringify(description, null, 2) + '\n' : describeTable(description));
}

async function explain(cmd: ExplainCommand): Promise<void> {
  const engine = await createEngine(cmd.backend);
  const { writeExplainOutputs } = await import('../engine/output/write');
  const showProgress = process.stderr.isTTY === true;
  const result = await engine.explain(cmd.model, cmd.image, cmd.options, {
    onProgress: showProgress
      ? (fraction, message) => err(`\r\x1b[K${Math.round(fraction * 100)}% ${message}`)
      : undefined,
  });
  if (showProgress) err('\r\x1b[K');
  let written: string[];
  try {
    written = await writeExplainOutputs(result, cmd.out);
  } catch (e) {
    if (e instanceof LoupeError) throw e;
    throw new LoupeError('BAD_REQUEST', `cannot write the outputs: ${(e as Error).message}`, cmd.out,
      'choose a folder you can write to');
  }
  out(explainTable(result.summary, cmd.out, written.length));
}

async function dissect(cmd: DissectCommand): Promise<void> {
  const engine = await createEngine(cmd.backend);
  const { writeDissectionReport } = await import('../engine/dissection/report');
  const showProgress = process.stderr.isTTY === true;
  const summary = await engine.dissect(cmd.model, cmd.options, {
    onProgress: showProgress ? (fraction, message) => err(`\r\x1b[K${Math.round(fraction * 100)}% ${message}`) : undefined,
  });
  if (showProgress) err('\r\x1b[K');
  try {
    await writeDissectionReport(summary, cmd.out);
  } catch (e) {
    if (e instanceof LoupeError) throw e;
    throw new LoupeError('BAD_REQUEST', `cannot write the report: ${(e as Error).message}`, cmd.out, 'choose a folder you can write to');
  }
  out(dissectTable(summary, cmd.out));
}

/** `--class`: an index, else a label of the model (labels.txt). */
function classIndexOf(arg: string, labels: readonly string[], modelPath: string): number {
  if (/^\d+$/.test(arg)) return Number(arg);
  const index = labels.indexOf(arg);
  if (index < 0) {
    throw new LoupeError('BAD_REQUEST', `the model has no class labelled '${arg}'`, modelPath,
      `give a class index or one of: ${labels.slice(0, 20).join(', ')}${labels.length > 20 ? ', …' : ''}`);
  }
  return index;
}

async function tcav(cmd: TcavCommand): Promise<void> {
  const engine = await createEngine(cmd.backend);
  const { copyTcavFiles } = await import('../engine/tcav/report');
  const description = await engine.describe(cmd.model);
  const showProgress = process.stderr.isTTY === true;
  const result = await engine.tcav(cmd.model, { ...cmd.options, classIndex: classIndexOf(cmd.classArg, description.labels, description.path) }, {
    onProgress: showProgress ? (fraction, message) => err(`\r\x1b[K${Math.round(fraction * 100)}% ${message}`) : undefined,
  });
  if (showProgress) err('\r\x1b[K');
  try {
    await copyTcavFiles(result, cmd.out);
  } catch (e) {
    if (e instanceof LoupeError) throw e;
    throw new LoupeError('BAD_REQUEST', `cannot write the outputs: ${(e as Error).message}`, cmd.out, 'choose a folder you can write to');
  }
  out(tcavTable(result, cmd.out));
}

export async function run(argv: string[]): Promise<number> {
  try {
    const cmd = parseCommand(argv);
    switch (cmd.kind) {
      case 'help': out(HELP); return 0;
      case 'version': out(`${version}\n`); return 0;
      case 'describe': await describe(cmd); return 0;
      case 'explain': await explain(cmd); return 0;
      case 'dissect': await dissect(cmd); return 0;
      case 'tcav': await tcav(cmd); return 0;
      case 'visualize': out(await (await import('./visual')).visualize(await createEngine(cmd.backend), cmd)); return 0;
      case 'blocks': out(await (await import('./visual')).blocks(await createEngine(cmd.backend), cmd)); return 0;
    }
  } catch (e) {
    if (e instanceof UsageError) {
      err(`loupe: ${e.message}\n(see loupe --help)\n`);
      return 2;
    }
    if (e instanceof LoupeError) {
      err(`loupe: ${e.message}\n`);
      return 1;
    }
    err(`loupe: internal error (a bug in Loupe): ${(e as Error)?.stack ?? String(e)}\n`);
    return 1;
  }
}

// TF.js prints banners with console.log; stdout is for results only (describe --json is parsed).
console.log = (...args: unknown[]) => err(args.map(String).join(' ') + '\n');
console.info = console.log;
console.warn = console.log;

run(process.argv.slice(2)).then((code) => process.exit(code));

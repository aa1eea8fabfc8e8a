/**
 * `npm run fuzz`: mutates model.json (fields, shapes, graph edges), weight shards, sidecars, PNG/JPEG
 * bytes, special files and worker requests, runs each case through Loupe's real code paths and prints
 * the outcomes. Exits 1 when any case crashed, hung, went over the memory budget, produced NaN maps, or
 * failed without naming what was wrong.
 *   npm run fuzz -- [--cases 10000] [--seed 1] [--minutes 60] [--family layers-json,png] [--case 24 (reproduce one case)]
 */
import { formatReport, runFuzz } from './harness';
import type { Family } from './cases';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

async function main(): Promise<void> {
  const cases = Number(arg('cases', '10000'));
  const seed = Number(arg('seed', '1'));
  const minutes = Number(arg('minutes', '60'));
  const family = arg('family', '');
  const only = arg('case', '');
  let done = 0;
  const report = await runFuzz({
    cases, seed, timeLimitMs: minutes * 60_000,
    ...(family ? { families: family.split(',') as Family[] } : {}),
    ...(only ? { only: only.split(',').map(Number) } : {}),
    onResult: (r) => {
      done++;
      if (done % 100 === 0) process.stderr.write(`${done} cases\n`);
      if (!['clean', 'success', 'cancelled'].includes(r.outcome)) process.stderr.write(`#${r.index} ${r.family} [${r.what}] ${r.outcome}: ${r.detail.split('\n')[0]}\n`);
    },
  });
  process.stdout.write(`${formatReport(report)}\n`);
  const bad = report.counts.crash + report.counts.hang + report.counts['over-budget'] + report.counts.nan + report.counts.unnamed;
  process.exitCode = bad > 0 ? 1 : 0;
}

void main();

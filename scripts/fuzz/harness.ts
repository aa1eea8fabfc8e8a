/**
 * The fuzz harness: feeds seeded cases to a runner process (scripts/fuzz/runner.ts) one at a time,
 * watches each case's time and the memory of the runner's whole process tree (runner, worker, CLI),
 * kills and replaces the runner on a hang or a blow-up, and tallies the outcomes.
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pickFamily, type Family } from './cases';
import { caseSeed, Rand } from './random';
import { OUTCOMES, type CaseResult, type CaseTask, type Outcome } from './protocol';

export interface FuzzOptions {
  cases: number;
  seed: number;
  /** Stop starting new cases after this long (the table says how many ran). */
  timeLimitMs: number;
  /** Time a case may take before it counts as a hang (the runner cancels at LOUPE_FUZZ_CASE_MS, default 4 s). */
  caseTimeoutMs?: number;
  /** Resident memory of the runner's process tree above which a case counts as over budget. */
  memoryBudgetBytes?: number;
  /** Restart the runner every this many cases (bounds what a leak can add up to). */
  recycleEvery?: number;
  families?: Family[];
  /** Relative weights replacing FAMILY_WEIGHTS' (e.g. fewer CLI cases, each a process start). */
  weights?: Partial<Record<Family, number>>;
  /** Run only these case indices (to reproduce a failure: same seed, same index). */
  only?: number[];
  onResult?: (r: CaseResult) => void;
}

export interface FuzzReport {
  cases: number;
  elapsedMs: number;
  counts: Record<Outcome, number>;
  byFamily: Record<string, Record<Outcome, number>>;
  /** Milliseconds spent per family. */
  msByFamily: Record<string, number>;
  peakRssBytes: number;
  failures: CaseResult[];
}

const BAD: readonly Outcome[] = ['crash', 'hang', 'over-budget', 'nan', 'unnamed'];

export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  const caseTimeout = o.caseTimeoutMs ?? 25_000;
  const budget = o.memoryBudgetBytes ?? 3 * 1024 ** 3;
  const recycle = o.recycleEvery ?? 400;
  const zero = () => Object.fromEntries(OUTCOMES.map((k) => [k, 0])) as Record<Outcome, number>;
  const report: FuzzReport = { cases: 0, elapsedMs: 0, counts: zero(), byFamily: {}, msByFamily: {}, peakRssBytes: 0, failures: [] };
  const started = Date.now();
  const families = new Rand(o.seed ^ 0x2545f491);
  let runner: Runner | undefined;
  let sinceStart = 0;
  try {
    for (let index = 0; index < o.cases; index++) {
      if (Date.now() - started > o.timeLimitMs) break;
      const family = pickFamily(families, o.families, o.weights);
      if (o.only && !o.only.includes(index)) continue;
      if (!runner || sinceStart >= recycle) {
        await runner?.stop();
        runner = await Runner.start();
        sinceStart = 0;
      }
      sinceStart++;
      const task: CaseTask = { index, seed: caseSeed(o.seed, index), family };
      const result = await runner.run(task, caseTimeout, budget);
      report.peakRssBytes = Math.max(report.peakRssBytes, runner.peakRss);
      if (result.outcome === 'hang' || result.outcome === 'over-budget' || !runner.alive) {
        runner.kill();
        runner = undefined;
      }
      report.cases++;
      report.counts[result.outcome]++;
      (report.byFamily[result.family] ??= zero())[result.outcome]++;
      report.msByFamily[result.family] = (report.msByFamily[result.family] ?? 0) + result.ms;
      if (BAD.includes(result.outcome)) report.failures.push(result);
      o.onResult?.(result);
    }
  } finally {
    await runner?.stop();
    report.elapsedMs = Date.now() - started;
  }
  return report;
}

class Runner {
  peakRss = 0;
  alive = true;
  private children = new Set<number>();
  private lastWhat = '';

  private constructor(private readonly child: ChildProcess) {
    child.on('exit', () => { this.alive = false; });
    child.on('message', (m: { kind: string; pid?: number; what?: string }) => {
      if (m.kind === 'child' && m.pid) this.children.add(m.pid);
      if (m.kind === 'case' && m.what) this.lastWhat = m.what;
    });
  }

  static async start(): Promise<Runner> {
    const child = fork(path.join(__dirname, 'runner.ts'), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: ['--import', 'tsx'] });
    const runner = new Runner(child);
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`the fuzz runner exited (${code}) before it was ready`)));
    });
    return runner;
  }

  run(task: CaseTask, timeoutMs: number, budget: number): Promise<CaseResult> {
    return new Promise((resolve) => {
      const begun = Date.now();
      this.lastWhat = '';
      const finish = (r: CaseResult) => {
        clearInterval(watch);
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
        resolve(r);
      };
      const failed = (outcome: Outcome, detail: string): CaseResult => ({ index: task.index, family: task.family, what: this.lastWhat, outcome, detail, ms: Date.now() - begun });
      const onMessage = (m: { kind: string; result?: CaseResult }) => { if (m.kind === 'result' && m.result?.index === task.index) finish(m.result); };
      const onExit = (code: number | null, signal: string | null) => finish(failed('crash', `the runner exited (${signal ?? code}) during the case`));
      const watch = setInterval(() => {
        const rss = treeRss(this.child.pid!, this.children);
        this.peakRss = Math.max(this.peakRss, rss);
        if (rss > budget) finish(failed('over-budget', `${Math.round(rss / 2 ** 20)} MB resident`));
        else if (Date.now() - begun > timeoutMs) finish(failed('hang', `no outcome after ${timeoutMs} ms`));
      }, 100);
      this.child.on('message', onMessage);
      this.child.on('exit', onExit);
      this.child.send(task);
    });
  }

  kill(): void {
    for (const pid of [...descendants(this.child.pid!), ...this.children]) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    this.child.kill('SIGKILL');
  }

  async stop(): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ kind: 'stop' });
    const timer = setTimeout(() => this.kill(), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/** Resident bytes of a process and every descendant (the worker and CLI children the runner starts). */
function treeRss(pid: number, extra: Set<number>): number {
  let total = 0;
  for (const p of new Set([pid, ...descendants(pid), ...extra])) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
    } catch {
      extra.delete(p);
    }
  }
  return total;
}

function descendants(pid: number): number[] {
  const out: number[] = [];
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop()!;
    let tasks: string[] = [];
    try { tasks = fs.readdirSync(`/proc/${p}/task`); } catch { continue; }
    for (const t of tasks) {
      let kids = '';
      try { kids = fs.readFileSync(`/proc/${p}/task/${t}/children`, 'utf8'); } catch { continue; }
      for (const k of kids.split(/\s+/).filter(Boolean).map(Number)) { out.push(k); stack.push(k); }
    }
  }
  return out;
}

export function formatReport(r: FuzzReport): string {
  const lines: string[] = [];
  const cols = OUTCOMES;
  const row = (name: string, c: Record<Outcome, number>) => `${name.padEnd(12)} ${cols.map((k) => String(c[k]).padStart(k.length)).join('  ')}  ${String(cols.reduce((s, k) => s + c[k], 0)).padStart(5)}`;
  lines.push(`${'family'.padEnd(12)} ${cols.join('  ')}  cases  ms/case`);
  for (const [family, c] of Object.entries(r.byFamily).sort()) {
    const n = cols.reduce((s, k) => s + c[k], 0);
    lines.push(`${row(family, c)}  ${String(Math.round((r.msByFamily[family] ?? 0) / n)).padStart(7)}`);
  }
  lines.push(row('all', r.counts));
  lines.push(`${r.cases} cases in ${(r.elapsedMs / 1000).toFixed(1)} s (${(r.cases / (r.elapsedMs / 1000)).toFixed(1)} cases/s); peak RSS of the runner's process tree ${Math.round(r.peakRssBytes / 2 ** 20)} MB`);
  for (const f of r.failures.slice(0, 30)) lines.push(`  #${f.index} ${f.family} [${f.what}] ${f.outcome}: ${f.detail.split('\n').slice(0, 4).join(' | ').slice(0, 400)}`);
  return lines.join('\n');
}

import type { Measure, ModelBench } from './child';
import type { DissectBench } from './dissection';

export type TorchPeer =
  | {
      available: true;
      torch: string;
      threads: number;
      params: number;
      inputSize: number;
      maxBatch: number;
      reps: number;
      heavyReps: number;
      ms: Record<Measure, number>;
      peakRssMB?: number;
    }
  | { available: false; reason: string };

export interface BenchReport {
  date: string;
  node: string;
  cpus: number;
  cpuModel: string;
  quick: boolean;
  /** 1-minute load average before and after the run: other processes skew every figure. */
  loadAverage: { start: number; end: number };
  models: ModelBench[];
  dissection: DissectBench[];
  skipped: Array<{ name: string; reason: string }>;
  torch: TorchPeer;
}

const LABELS: Record<Measure, string> = {
  forward: 'forward',
  gradient: 'gradient',
  gradient50: 'gradient, 50 in a row',
  smoothgrad50: 'SmoothGrad-50',
  ig50: 'IG-50',
  smoothgrad50_1: 'SmoothGrad-50, 1 thread',
  ig50_1: 'IG-50, 1 thread',
  gradcam: 'Grad-CAM',
};

/** Ratio shown in the table, and the target it is checked against on the MobileNetV2-sized model. */
const RATIOS: Partial<Record<Measure, { over: Measure; limit?: number }>> = {
  gradient: { over: 'forward', limit: 3 },
  gradient50: { over: 'gradient' },
  smoothgrad50: { over: 'gradient50', limit: 50 },
  ig50: { over: 'gradient50', limit: 50 },
  smoothgrad50_1: { over: 'gradient50' },
  ig50_1: { over: 'gradient50' },
  gradcam: { over: 'forward' },
};

export interface TargetCheck {
  model: string;
  target: string;
  ratio: number;
  pass: boolean;
}

export function targetChecks(report: BenchReport): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const model of report.models.filter((m) => m.targets)) {
    for (const [measure, spec] of Object.entries(RATIOS) as Array<[Measure, { over: Measure; limit?: number }]>) {
      if (spec.limit === undefined) continue;
      const ratio = ratioOf(model.ms[measure], model.ms[spec.over]);
      if (!Number.isFinite(ratio)) continue;
      checks.push({
        model: model.name,
        target: `${LABELS[measure]} ≤ ${spec.limit}× ${LABELS[spec.over]}`,
        ratio,
        pass: ratio <= spec.limit,
      });
    }
  }
  return checks;
}

function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'failed';
  if (ms >= 10000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 100) return ms.toFixed(0);
  return ms.toFixed(1);
}

function fmtRatio(r: number): string {
  if (!Number.isFinite(r)) return '—';
  return r >= 10 ? `${r.toFixed(1)}×` : `${r.toFixed(2)}×`;
}

/** The figures as markdown: one row per model × measure, targets as a column. */
export function renderTable(report: BenchReport): string {
  const torch = report.torch.available ? report.torch : undefined;
  const lines: string[] = [];
  lines.push(`## Loupe benchmark (${report.quick ? 'quick' : 'full'})`);
  lines.push('');
  lines.push(`${report.date} · node ${report.node} · ${report.cpus} × ${report.cpuModel} · ` +
    `load average ${report.loadAverage.start.toFixed(2)} before the run (${report.loadAverage.end.toFixed(2)} after it, this run included)`);
  lines.push('');
  // Only the value before the run tells about other processes: the one after includes the bench itself.
  if (report.loadAverage.start > report.cpus / 2) {
    lines.push('**Warning: other processes were using the CPU when this run started; the figures may be skewed. Re-run on an idle machine.**');
    lines.push('');
  }
  lines.push('| model | backend | threads | input | params | load ms | peak RSS |');
  lines.push('|---|---|---:|---|---:|---:|---:|');
  for (const m of report.models) {
    lines.push(`| ${m.name} | ${m.backend} | ${m.threads} | ${m.inputShape.join('×')} | ${(m.params / 1e6).toFixed(3)} M | ${fmtMs(m.loadMs)} | ${m.peakRssMB.toFixed(0)} MB |`);
  }
  lines.push('');

  const header = ['model', 'measure', 'Loupe ms (median)', 'call wall ms', 'reps', 'ratio', 'target', 'status'];
  if (torch) header.push('PyTorch ms', 'Loupe / PyTorch');
  lines.push(`| ${header.join(' | ')} |`);
  lines.push(`|${header.map((_, i) => (i >= 2 && i !== 6 && i !== 7 ? '---:' : '---')).join('|')}|`);
  for (const m of report.models) {
    for (const measure of Object.keys(LABELS) as Measure[]) {
      const spec = RATIOS[measure];
      const ratio = spec ? ratioOf(m.ms[measure], m.ms[spec.over]) : undefined;
      const ratioText = ratio === undefined || !spec || !Number.isFinite(ratio) ? '—' : `${fmtRatio(ratio)} ${LABELS[spec.over]}`;
      const hasTarget = m.targets && spec?.limit !== undefined;
      const target = hasTarget ? `≤ ${spec!.limit}× ${LABELS[spec!.over]}` : '—';
      const status = hasTarget ? (!Number.isFinite(ratio!) ? 'not measured' : ratio! <= spec!.limit! ? 'pass' : '**FAIL**') : '';
      const row = [m.name, LABELS[measure], fmtMs(m.ms[measure]), fmtMs(m.wallMs[measure]), String(m.reps[measure]), ratioText, target, status];
      if (torch) {
        const peer = m.targets ? torch.ms[measure] : undefined;
        row.push(peer === undefined ? '—' : fmtMs(peer), peer === undefined ? '—' : fmtRatio(ratioOf(m.ms[measure], peer)));
      }
      lines.push(`| ${row.join(' | ')} |`);
    }
  }
  lines.push('');
  lines.push('Loupe ms: forward = wall time of `predict()`, sampled before and alternately with the gradient runs; the others = the time the engine reports for the map (`summary.maps[i].ms`). ' +
    'call wall ms = the whole `predict()` / `explain()` call, which also runs the prediction. Ratios and targets use Loupe ms. ' +
    '"gradient, 50 in a row" is the mean of 50 consecutive gradients: one gradient under the same sustained load as SmoothGrad-50 and IG-50, ' +
    'sampled alternately with them, which is what their ≤ 50× targets compare with (this machine\'s speed drifts by tens of percent over seconds). ' +
    'threads: SmoothGrad-50 and IG-50 spread their samples over the engine\'s thread and its lanes (one worker thread per other core, each with its own TF.js backend); ' +
    'a single gradient runs on one thread. The "1 thread" rows run the same sums on the engine\'s thread alone. Peak RSS includes the lanes.');
  if (torch) {
    lines.push(`PyTorch ${torch.torch}, ${torch.threads} threads, same MobileNetV2 with random weights, SmoothGrad/IG in batches of ${torch.maxBatch}` +
      (torch.peakRssMB !== undefined ? `, peak RSS ${torch.peakRssMB.toFixed(0)} MB.` : '.'));
  } else {
    lines.push(`PyTorch peer not run: ${report.torch.available ? '' : report.torch.reason}.`);
  }
  for (const m of report.models) {
    for (const [measure, error] of Object.entries(m.errors)) lines.push(`${m.name} ${LABELS[measure as Measure]} failed: ${firstLine(error)}`);
  }
  for (const s of report.skipped) lines.push(`Skipped ${s.name}: ${firstLine(s.reason)}`);
  const failed = targetChecks(report).filter((c) => !c.pass);
  if (failed.length > 0) lines.push(`Targets missed: ${failed.map((c) => `${c.target} (${fmtRatio(c.ratio)})`).join('; ')}.`);
  return `${lines.join('\n')}\n`;
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.trim();
}

/** NaN unless both figures were measured: a failed measure arrives as null over IPC, and null / x is 0. */
function ratioOf(a: number | null, b: number | null): number {
  return Number.isFinite(a) && Number.isFinite(b) ? (a as number) / (b as number) : Number.NaN;
}

/**
 * A panel's request to the worker, the same for every panel: a cancellable progress notification,
 * and one way of settling: a cancel is logged, a failure is logged, handed to the panel and shown
 * with a "Show Log" button; either resolves undefined.
 */
import * as vscode from 'vscode';
import { CancelledError } from '../../protocol/errors';
import type { LoupeContext } from '../context';
import { needsSidecarSize } from '../sidecar/sidecarErrors';

export type ProgressReporter = (fraction: number, message: string) => void;

/**
 * Runs `work` under a cancellable notification titled `title`; cancelling it aborts `abort`. The
 * worker's fractions move the bar forward only (clamped to [0, 1]; a smaller one is ignored).
 */
export function withWorkerProgress<T>(title: string, abort: AbortController, work: (onProgress: ProgressReporter) => Promise<T>): Thenable<T> {
  return vscode.window.withProgress({
    location: vscode.ProgressLocation.Notification,
    title,
    cancellable: true,
  }, async (progress, token) => {
    token.onCancellationRequested(() => abort.abort());
    let done = 0;
    return work((fraction, message) => {
      const f = Math.max(done, Math.min(1, fraction));
      progress.report({ increment: (f - done) * 100, message });
      done = f;
    });
  });
}

export interface TaskNames {
  /** What the log says was cancelled: "<name>: cancelled" ("explaining a.png"). */
  name: string;
  /** What the log says failed, when longer than `name` ("dissecting relu3 of /w/model.json"). */
  failed?: string;
}

/** Resolves what `work` resolves; undefined when it was cancelled (CancelledError, or `abort` fired) or failed. */
export async function settleWorkerTask<T>(ctx: LoupeContext, names: TaskNames, abort: AbortController, work: () => Promise<T>,
  onError?: (message: string) => void): Promise<T | undefined> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof CancelledError || abort.signal.aborted) {
      ctx.log.info(`${names.name}: cancelled`);
      return undefined;
    }
    const message = err instanceof Error ? err.message : String(err);
    ctx.log.error(`${names.failed ?? names.name} failed: ${err instanceof Error ? err.stack ?? message : message}`);
    onError?.(message);
    await showErrorWithLog(ctx, `Loupe: ${message}`);
    return undefined;
  }
}

const CREATE_SIDECAR = 'Create loupe.json…';

/**
 * An error notification whose "Show Log" button opens Loupe's log. When the model's input size is
 * symbolic and loupe.json does not give it, a "Create loupe.json…" button asks for H and W and writes it.
 */
export async function showErrorWithLog(ctx: LoupeContext, message: string): Promise<void> {
  const actions = needsSidecarSize(message) ? [CREATE_SIDECAR, 'Show Log'] : ['Show Log'];
  const choice = await vscode.window.showErrorMessage(message, ...actions);
  if (choice === 'Show Log') ctx.log.show();
  if (choice === CREATE_SIDECAR) await ctx.createSidecar({ askSize: true });
}

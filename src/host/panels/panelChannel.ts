/**
 * The host side of a panel's webview, the same for every panel: the page (HTML, CSP, icon, resource
 * roots), the guard every incoming message passes, and the `ready` handshake. Without
 * retainContextWhenHidden a hidden page is dropped and rebuilt when shown again; it then says `ready`,
 * and gets the full current state: what the panel shows, then the busy or error status.
 */
import * as vscode from 'vscode';
import { describeBadMessage, type PanelStatusMessage } from '../../protocol/panelMessages';
import type { LoupeContext } from '../context';
import { buildPanelHtml, makeNonce } from './html';

/** Scripts and styles load from dist/webview and media; `extraRoots` (folders) add images. */
export function panelWebviewOptions(extensionUri: vscode.Uri, extraRoots: readonly string[] = []): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return {
    enableScripts: true,
    localResourceRoots: [
      vscode.Uri.joinPath(extensionUri, 'dist', 'webview'),
      vscode.Uri.joinPath(extensionUri, 'media'),
      ...extraRoots.map((r) => vscode.Uri.file(r)),
    ],
  };
}

/**
 * Restores `viewType`'s panels after a window reload from the state their page persisted. A state the
 * guard refuses (older or damaged) leaves nothing to restore from: the panel is closed, not left blank.
 */
export function registerPanelSerializer<State>(ctx: LoupeContext, viewType: string, name: string,
  isState: (v: unknown) => v is State, restore: (panel: vscode.WebviewPanel, state: State) => void): vscode.Disposable {
  return vscode.window.registerWebviewPanelSerializer(viewType, {
    async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
      if (!isState(state)) {
        ctx.log.warn(`${name}: cannot restore from the saved state (${describeBadMessage(state)}); closing it`);
        panel.dispose();
        return;
      }
      restore(panel, state);
    },
  });
}

export interface PanelChannelOptions<From extends { type: string }> {
  /** Names the panel in log lines ("Explain panel"). */
  name: string;
  /** The page's bundle in dist/webview ("explain.js"). */
  script: string;
  /** The panel's own stylesheet in media ("explain.css"), linked after media/panel.css. */
  style: string;
  title: string;
  /** The protocol's guard: messages it refuses are logged and dropped. */
  accepts(v: unknown): v is From;
  /** Posts what the panel shows (the page just said `ready`). */
  onReady(): void;
  onMessage(msg: Exclude<From, { type: 'ready' }>): Promise<void>;
  /** Tells the user that handling a message failed (the failure is already logged). */
  onHandlerError(err: Error): void;
  onDispose(): void;
}

export class PanelChannel<To extends { type: string }, From extends { type: string }> {
  private ready = false;
  private busy: string | undefined;
  private lastError: string | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  /** Builds the page; set `panel.webview.options` (its resource roots) first. */
  constructor(private readonly ctx: LoupeContext, private readonly panel: vscode.WebviewPanel, private readonly o: PanelChannelOptions<From>) {
    const { webview } = panel;
    const media = (file: string): string => webview.asWebviewUri(vscode.Uri.joinPath(ctx.extensionUri, 'media', file)).toString();
    panel.iconPath = vscode.Uri.joinPath(ctx.extensionUri, 'media', 'loupe.svg');
    panel.title = o.title;
    webview.html = buildPanelHtml({
      cspSource: webview.cspSource,
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(ctx.extensionUri, 'dist', 'webview', o.script)).toString(),
      styleUris: [media('panel.css'), media(o.style)],
      nonce: makeNonce(),
      title: o.title,
    });
    this.disposables.push(
      webview.onDidReceiveMessage((msg: unknown) => {
        if (!o.accepts(msg)) {
          ctx.log.warn(`${o.name}: ignored a malformed ${describeBadMessage(msg)}`);
          return;
        }
        void this.receive(msg).catch((err: Error) => {
          ctx.log.error(`${o.name}: handling "${msg.type}" failed: ${err.stack ?? err.message}`);
          o.onHandlerError(err);
        });
      }),
      panel.onDidChangeViewState(() => { if (!panel.visible) this.ready = false; }),
      panel.onDidDispose(() => {
        o.onDispose();
        for (const d of this.disposables.splice(0)) d.dispose();
      }),
    );
  }

  /** Posts `message` to the page; false when the page is not ready (it gets the whole state when it says `ready`). */
  post(message: To | PanelStatusMessage): boolean {
    if (!this.ready) return false;
    void this.panel.webview.postMessage(message).then(undefined, (err: Error) => this.ctx.log.warn(`${this.o.name}: postMessage failed: ${err.message}`));
    return true;
  }

  /** Work for this panel started (message) or ended (undefined); a page that says `ready` meanwhile is told too. */
  setBusy(message: string | undefined): void {
    this.busy = message;
    this.post(message ? { type: 'busy', busy: true, message } : { type: 'busy', busy: false });
  }

  /** The last work for this panel failed: the page shows `message` (now, or when it says `ready`). */
  fail(message: string): void {
    this.lastError = message;
    this.post({ type: 'error', message });
  }

  /** A new result replaces the failure: a rebuilt page no longer shows it. */
  clearError(): void {
    this.lastError = undefined;
  }

  private async receive(msg: From): Promise<void> {
    if (msg.type !== 'ready') {
      await this.o.onMessage(msg as Exclude<From, { type: 'ready' }>);
      return;
    }
    this.ready = true;
    this.o.onReady();
    if (this.busy) this.post({ type: 'busy', busy: true, message: this.busy });
    else if (this.lastError) this.post({ type: 'error', message: this.lastError });
  }
}

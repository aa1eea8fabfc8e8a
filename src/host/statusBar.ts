/** `Loupe: <model> · <backend> · <worker state>`; a click shows the log. */
import * as vscode from 'vscode';
import { statusText, type WorkerStateName } from './format';

const ICONS: Record<WorkerStateName, string> = {
  idle: '$(eye)',
  starting: '$(loading~spin)',
  busy: '$(loading~spin)',
  error: '$(warning)',
};

export class LoupeStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('loupe.status', vscode.StatusBarAlignment.Right, 100);
  private state: WorkerStateName = 'idle';
  private detail: string | undefined;
  private backend: string;
  private model: string | undefined;
  private disposed = false;

  constructor(configuredBackend: string) {
    this.item.name = 'Loupe';
    this.item.command = 'loupe.showLog';
    // Until the worker says which backend it picked, show the preference.
    this.backend = configuredBackend;
    this.render();
    this.item.show();
  }

  set(state: WorkerStateName, detail?: string): void {
    this.state = state;
    this.detail = detail;
    this.render();
  }

  setBackend(backend: string): void {
    this.backend = backend;
    this.render();
  }

  setModel(model: string | undefined): void {
    this.model = model;
    this.render();
  }

  dispose(): void {
    this.disposed = true;
    this.item.dispose();
  }

  private render(): void {
    if (this.disposed) return;
    this.item.text = `${ICONS[this.state]} ${statusText(this.model, this.backend, this.state)}`;
    this.item.tooltip = [
      `Model: ${this.model ?? 'none found'}`,
      `Backend: ${this.backend}`,
      `Worker: ${this.state}${this.detail ? ` (${this.detail})` : ''}`,
      'Click to show the Loupe log',
    ].join('\n');
    this.item.backgroundColor = this.state === 'error' ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
  }
}

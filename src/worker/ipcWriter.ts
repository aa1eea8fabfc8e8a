/**
 * The worker's side of the IPC channel, as vscode-jsonrpc's IPCMessageWriter but with a way to wait until
 * every message written has left the process. ONNX Runtime's `run` and the wasm kernels block the event loop,
 * and a reply larger than the pipe's buffer (an image, a map) is only written while the loop is free: without
 * waiting, the forward pass's reply would reach the host after the next map is computed.
 */
import { AbstractMessageWriter, type Message, type MessageWriter } from 'vscode-jsonrpc/node';

export class FlushableIpcWriter extends AbstractMessageWriter implements MessageWriter {
  private inFlight = 0;
  private errors = 0;
  private waiting: Array<() => void> = [];

  constructor(private readonly proc: NodeJS.Process) {
    super();
    proc.on('error', (error) => this.fireError(error));
    proc.on('disconnect', () => this.fireClose());
  }

  write(msg: Message): Promise<void> {
    if (typeof this.proc.send !== 'function') return Promise.resolve();
    this.inFlight++;
    try {
      this.proc.send(msg, undefined, undefined, (error: Error | null) => {
        if (error) this.fireError(error, msg, ++this.errors);
        else this.errors = 0;
        this.settled();
      });
      return Promise.resolve();
    } catch (error) {
      this.settled();
      this.fireError(error, msg, ++this.errors);
      return Promise.reject(error);
    }
  }

  end(): void {}

  /** Resolves once every message written so far has been handed to the channel (or failed). */
  flushed(): Promise<void> {
    return this.inFlight === 0 ? Promise.resolve() : new Promise((resolve) => this.waiting.push(resolve));
  }

  private settled(): void {
    if (--this.inFlight > 0) return;
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }
}

/**
 * The first pass's activations and segmentations, written to disk so the second pass reads them
 * back instead of running the model again. Records are appended and read in order; nothing is held
 * in memory beyond one record.
 */
import * as fs from 'node:fs';
import type { Segmentation } from './probe/types';

const HEADER_INTS = 6;

export class ActivationSpill {
  private readonly fd: number;
  private writePos = 0;
  private readPos = 0;

  constructor(readonly file: string) {
    this.fd = fs.openSync(file, 'w+');
  }

  get bytes(): number {
    return this.writePos;
  }

  write(block: Float32Array, seg: Segmentation): void {
    const n = seg.width * seg.height;
    const planeBytes = Math.ceil((n * 2) / 4) * 4;
    const header = Int32Array.of(block.length, seg.width, seg.height, seg.planes.length, seg.imageLabels.length, seg.categories.length);
    const parts: Uint8Array[] = [new Uint8Array(header.buffer), bytesOf(block)];
    for (const plane of seg.planes) {
      const padded = new Uint8Array(planeBytes);
      padded.set(bytesOf(plane));
      parts.push(padded);
    }
    parts.push(bytesOf(Int32Array.from(seg.imageLabels)), bytesOf(Int32Array.from(seg.categories)));
    for (const part of parts) {
      fs.writeSync(this.fd, part, 0, part.length, this.writePos);
      this.writePos += part.length;
    }
  }

  /** The next record, in the order written. */
  read(): { block: Float32Array; segmentation: Segmentation } {
    const header = new Int32Array(this.take(HEADER_INTS * 4).buffer);
    const [blockLength, width, height, planes, labels, categories] = Array.from(header) as [number, number, number, number, number, number];
    const block = new Float32Array(this.take(blockLength * 4).buffer);
    const n = width * height;
    const planeBytes = Math.ceil((n * 2) / 4) * 4;
    const planeList = Array.from({ length: planes }, () => new Uint16Array(this.take(planeBytes).buffer, 0, n));
    const imageLabels = Array.from(new Int32Array(this.take(labels * 4).buffer));
    const cats = Array.from(new Int32Array(this.take(categories * 4).buffer));
    return { block, segmentation: { width, height, planes: planeList, imageLabels, categories: cats } };
  }

  close(): void {
    fs.closeSync(this.fd);
    fs.rmSync(this.file, { force: true });
  }

  private take(length: number): Uint8Array {
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const got = fs.readSync(this.fd, out, done, length - done, this.readPos + done);
      if (got === 0) throw new Error(`internal: activation spill ${this.file} ended early`);
      done += got;
    }
    this.readPos += length;
    return out;
  }
}

function bytesOf(a: Float32Array | Uint16Array | Int32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

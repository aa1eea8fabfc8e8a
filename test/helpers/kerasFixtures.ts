/**
 * The Keras-written model files the Keras tests read. They come from public repositories (provenance,
 * licences and checksums in test/fixtures/keras/README.md) and, as data fetched from public repositories,
 * live in the project's shared folder (`shared/fixtures/keras/`, beside the repository in CI and on the
 * developers' machines) rather than in the repository. `LOUPE_KERAS_FIXTURES` points elsewhere.
 * An altered file fails the tests that need it. When the files are absent (a checkout without them in
 * shared/), the suites that read them are reported as skipped with KERAS_FIXTURES_MISSING as the reason:
 * they are not counted as passing.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** File → sha256, as listed in test/fixtures/keras/README.md. */
export const KERAS_FIXTURES = {
  'mnist_cnn.keras': '5c4c606a514d4040c5d9f3e2192800b660ed62d9bf2e5acfa141af14b62aec6b',
  'mnist_cnn.h5': '564d1149868ae053e8a6ff04f5d6f8671def175af04c527bf9e82732118dd03d',
  'pretrainedResnet.h5': '5f938a8eea605438cc7360aa13c987bc6d7bd0c8d931b2917361ae7ae4eeda2f',
  'vww_96.h5': 'af9111d50e6e85b2f2123345e0316ef1c384865ebf6b06340ddac7e66017450f',
} as const;
export type KerasFixture = keyof typeof KERAS_FIXTURES;

export const REFERENCE_DIR = path.resolve(__dirname, '../fixtures/keras');

function candidates(): string[] {
  const out: string[] = [];
  if (process.env.LOUPE_KERAS_FIXTURES) out.push(path.resolve(process.env.LOUPE_KERAS_FIXTURES));
  // shared/ sits beside the repository (CI: beside the clone; here: /work/shared beside /work/main).
  for (let dir = path.resolve(__dirname, '../..'); ; dir = path.dirname(dir)) {
    out.push(path.join(path.dirname(dir), 'shared', 'fixtures', 'keras'));
    if (path.dirname(dir) === dir) break;
  }
  return out;
}

/** Absolute path of a fixture, checked against its checksum. Throws (the test fails) when it is absent. */
export function kerasFixture(name: KerasFixture): string {
  for (const dir of candidates()) {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) continue;
    const sha = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    if (sha !== KERAS_FIXTURES[name]) throw new Error(`${file} is not the fixture listed in test/fixtures/keras/README.md (sha256 ${sha})`);
    return file;
  }
  throw new Error(`Keras fixture ${name} not found in ${candidates().join(', ')}: put the files listed in `
    + 'test/fixtures/keras/README.md into shared/fixtures/keras/ (or set LOUPE_KERAS_FIXTURES to their folder)');
}

/** Why the tests reading the Keras-written files cannot run on this checkout, or undefined when every file is there. */
export const KERAS_FIXTURES_MISSING: string | undefined = (() => {
  const absent = (Object.keys(KERAS_FIXTURES) as KerasFixture[]).filter((name) => !candidates().some((dir) => fs.existsSync(path.join(dir, name))));
  return absent.length === 0 ? undefined
    : `the Keras-written fixtures ${absent.join(', ')} are not in shared/fixtures/keras/ (see test/fixtures/keras/README.md)`;
})();

import type { Rand } from './random';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface Slot { parent: Json[] | Record<string, Json>; key: string | number; value: Json }

/** Numbers that break shape arithmetic: zero, negatives, fractions, huge values, just-over-limit values. */
export const ODD_NUMBERS: readonly Json[] = [0, -1, -5, 64.5, 0.5, 1, 2, 3, 4000, 8_000_000, 1e9, 2 ** 31, 2 ** 53, -1e9, 10001, 1e308, null, '3', true];
const ODD_STRINGS = ['', '__proto__', 'constructor', '../../../etc/passwd', '/dev/zero', 'x'.repeat(300), 'same', 'valid', 'EXPLICIT', 'relu', 'swish', 'channels_first'];

function slots(root: Json): Slot[] {
  const out: Slot[] = [];
  const walk = (value: Json, depth: number) => {
    if (depth > 40 || value === null || typeof value !== 'object') return;
    if (Array.isArray(value)) value.forEach((v, i) => { out.push({ parent: value, key: i, value: v }); walk(v, depth + 1); });
    else for (const [k, v] of Object.entries(value)) { out.push({ parent: value, key: k, value: v }); walk(v, depth + 1); }
  };
  walk(root, 0);
  return out;
}

function strings(root: Json): string[] {
  return slots(root).filter((s) => typeof s.value === 'string').map((s) => s.value as string);
}

/** A key named __proto__ as an own property, as JSON.parse makes it (an assignment would set the prototype). */
function setOwn(obj: Record<string, Json>, key: string, value: Json): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Applies `count` random mutations to a deep copy of `doc`: values replaced, keys dropped or added, lists cut or repeated. */
export function mutateJson<T>(doc: T, r: Rand, count = 1 + r.int(3)): T {
  const root = JSON.parse(JSON.stringify(doc)) as Json;
  for (let m = 0; m < count; m++) {
    const all = slots(root);
    if (all.length === 0) break;
    const slot = r.pick(all);
    const set = (v: Json) => {
      if (Array.isArray(slot.parent)) slot.parent[slot.key as number] = v;
      else setOwn(slot.parent, String(slot.key), v);
    };
    const v = slot.value;
    const op = r.int(10);
    if (op === 0) {
      // Remove the slot.
      if (Array.isArray(slot.parent)) slot.parent.splice(slot.key as number, 1);
      else delete slot.parent[slot.key as string];
    } else if (op === 1) {
      set(r.pick<Json>([null, {}, [], true, 0, '', [[]], { __proto__: null }]));
    } else if (typeof v === 'number') {
      set(r.pick(ODD_NUMBERS));
    } else if (typeof v === 'string') {
      set(r.chance(0.5) ? r.pick(strings(root)) : r.pick(ODD_STRINGS));
    } else if (Array.isArray(v)) {
      const k = r.int(4);
      if (k === 0 && v.length) v.splice(r.int(v.length), 1);
      else if (k === 1 && v.length) v.push(JSON.parse(JSON.stringify(v[r.int(v.length)]!)) as Json);
      else if (k === 2 && v.length > 1) { const i = r.int(v.length); const j = r.int(v.length); [v[i], v[j]] = [v[j]!, v[i]!]; }
      else v.length = 0;
    } else if (v && typeof v === 'object') {
      const keys = Object.keys(v);
      if (r.chance(0.5) && keys.length) delete v[r.pick(keys)];
      else setOwn(v, r.pick(['__proto__', 'constructor', 'unknownKey', ...keys]), r.pick<Json>([{}, 1, 'x', null, [1, 2]]));
    } else {
      set(r.pick(ODD_NUMBERS));
    }
  }
  return root as T;
}

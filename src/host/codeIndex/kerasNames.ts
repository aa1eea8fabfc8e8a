// Keras layers created without `name=` get their name from Keras: the class in snake_case and a
// per-class counter in creation order (`conv2d`, `conv2d_1`, …), counted over the whole Python session.
// This file finds those constructions in a script, in the order Python runs them, and links them to a
// model's auto-named layers by that order — or says why the order cannot be read from the file.
import { kerasSnakeCase } from '../../protocol/kerasNaming';
import { dottedNameEndingAt, LineMap, matchingClose, splitTopLevel, tokenize, type Token } from './tokens';

/** A Keras layer (or model) constructed in a Python file without a `name=` argument. */
export interface KerasAutoCall {
  /** The Keras class it creates: `Conv2D`; `InputLayer` for `Input(...)`, `Add` for `add([...])`. */
  className: string;
  /** Position of the call (0-based). */
  line: number;
  column: number;
  /** The code whose one run creates it (a model builder): `build_model()`, or `the module's top level`. */
  builder: string;
  /** Where it sits, for people: the innermost function (`conv_block()`), else the builder. */
  label: string;
  /** Creation order within the builder: compare element by element. */
  order: number[];
  /** A model (`Sequential(...)`, `Model(...)`), not a layer. */
  isModel?: boolean;
  /** Why the file does not tell which Keras number it gets (a loop, a function run several times, …). */
  ambiguous?: string;
}

/**
 * A model layer as Keras named it. `className` '' means the class is not known: a converted graph model's
 * Keras layer, seen only through the ops the converter kept (a Conv2D fused with its ReLU is one op, a
 * Flatten a Reshape, a Dropout nothing). Such a layer counts for the class whose auto-name it carries.
 */
export interface ModelLayerRef { name: string; className: string }

export interface OrderLink { layer: string; call: KerasAutoCall; how: string }
export interface Unlinked { call: KerasAutoCall; why: string }

const MERGE_FUNCTIONS: Record<string, string> = {
  add: 'Add', concatenate: 'Concatenate', multiply: 'Multiply', average: 'Average', maximum: 'Maximum',
  minimum: 'Minimum', subtract: 'Subtract', dot: 'Dot',
};
const MODEL_CLASSES = new Set(['Sequential', 'Model', 'Functional']);
const KERAS_ROOTS = new Set(['keras', 'models']);
const LOOPS = new Set(['for', 'while']);
const MODULE = "the module's top level";

interface Block { kind: string; name: string; line: number; indent: number; start: number; end: number }

/** Every unnamed Keras construction in `text`, in source order. */
export function scanKerasAutoCalls(text: string): KerasAutoCall[] {
  const tokens = tokenize(text, 'python');
  const lines = new LineMap(text);
  const imports = kerasImports(tokens);
  if (!imports.any) return [];
  const blocks = blocksOf(tokens, lines, text.length);
  const defs = blocks.filter((b) => b.kind === 'def');
  const sites = new Map(defs.map((d) => [d, callSites(tokens, d)]));
  const innermost = (offset: number, kinds: string[]): Block | undefined =>
    blocks.filter((b) => kinds.includes(b.kind) && b.start <= offset && offset < b.end).sort((a, b) => b.start - a.start)[0];

  /** The builder and creation-order key of code at `offset`, following single calls of the functions it sits in. */
  const place = (offset: number, depth = 0): { builder: string; label: string; order: number[]; ambiguous?: string } => {
    const loop = innermost(offset, [...LOOPS]);
    const def = innermost(offset, ['def', 'class']);
    const why = loop && (!def || loop.start > def.start) ? `it is built in a loop (the ${loop.kind} on line ${loop.line + 1})` : undefined;
    if (!def) return { builder: MODULE, label: MODULE, order: [offset], ...(why ? { ambiguous: why } : {}) };
    const label = def.kind === 'class' ? `class ${def.name}` : `${def.name}()`;
    if (def.kind === 'class') return { builder: label, label, order: [offset], ambiguous: why ?? `it is built inside class ${def.name}, whose methods Loupe does not follow` };
    const calls = sites.get(def)!;
    if (calls.length === 0 || depth > 8) return { builder: label, label, order: [offset], ...(why ? { ambiguous: why } : {}) };
    if (calls.length > 1) {
      // Its layers belong to the builder that calls it (taken from the first call), numbered who knows how.
      return { builder: place(calls[0]!.close, depth + 1).builder, label, order: [offset],
        ambiguous: why ?? `it is built by ${def.name}(), which this file calls ${calls.length} times (lines ${calls.map((c) => lines.position(c.offset).line + 1).join(', ')})` };
    }
    const outer = place(calls[0]!.close, depth + 1);
    return { builder: outer.builder, label, order: [...outer.order, offset], ...(why ?? outer.ambiguous ? { ambiguous: why ?? outer.ambiguous } : {}) };
  };

  const out: KerasAutoCall[] = [];
  for (let i = 1; i < tokens.length; i++) {
    if (tokens[i]!.text !== '(' || tokens[i]!.kind !== 'punct') continue;
    const callee = dottedNameEndingAt(tokens, i - 1);
    if (!callee || ['def', 'class', '.'].includes(tokens[callee.first - 1]?.text ?? '')) continue;
    const className = kerasClassOf(callee.parts, imports);
    if (!className) continue;
    const close = matchingClose(tokens, i);
    if (splitTopLevel(tokens, i, close).some(([s]) => tokens[s]!.text === 'name' && tokens[s + 1]?.text === '=')) continue;
    // Python runs a constructor once its arguments are evaluated: at its closing parenthesis.
    const at = place(tokens[close]?.start ?? tokens[i]!.start);
    const comprehension = comprehensionAround(tokens, i);
    const pos = lines.position(tokens[callee.first]!.start);
    out.push({
      className, line: pos.line, column: pos.column, builder: at.builder, label: at.label, order: at.order,
      ...(MODEL_CLASSES.has(className) ? { isModel: true } : {}),
      ...(at.ambiguous ?? comprehension ? { ambiguous: at.ambiguous ?? comprehension } : {}),
    });
  }
  return out;
}

/**
 * Links unnamed constructions to the model's auto-named layers. Within the builder whose unnamed
 * layers match the model class by class (same count of `Conv2D(` calls as `conv2d…` layers, and so on),
 * the k-th call of a class in creation order is the class's k-th layer by Keras number. Relative order
 * makes a session that created layers before (a notebook cell run twice) harmless: conv2d_2, conv2d_3.
 */
export function linkByCreationOrder(calls: KerasAutoCall[], layers: ModelLayerRef[]): { links: OrderLink[]; unlinked: Unlinked[] } {
  const auto = autoNamedByClass(layers, new Set(calls.map((c) => c.className)));
  // A converted graph model keeps no node for some layers (Dropout at inference): a class none of whose layers
  // survived says nothing about the numbering of the others, so it is left out instead of refusing the builder.
  const converted = layers.some((l) => l.className === '');
  const builders = new Map<string, KerasAutoCall[]>();
  for (const call of calls) builders.set(call.builder, [...(builders.get(call.builder) ?? []), call]);

  const candidates: Array<{ builder: string; byClass: Map<string, KerasAutoCall[]>; score: number }> = [];
  const mismatch: Unlinked[] = [];
  for (const [builder, list] of builders) {
    const models = list.filter((c) => c.isModel);
    if (models.length > 1) {
      const why = `${builder} builds ${models.length} models (lines ${models.map((m) => m.line + 1).join(', ')}), and Keras numbers their layers in one sequence`;
      mismatch.push(...list.filter((c) => !c.isModel && auto.has(c.className)).map((call) => ({ call, why })));
      continue;
    }
    const byClass = new Map<string, KerasAutoCall[]>();
    for (const c of list) {
      if (c.isModel || c.ambiguous || (converted && !auto.has(c.className))) continue;
      byClass.set(c.className, [...(byClass.get(c.className) ?? []), c]);
    }
    const wrong = [...byClass].find(([cls, cs]) => (auto.get(cls)?.length ?? 0) !== cs.length);
    if (wrong) {
      const [cls, cs] = wrong;
      const have = auto.get(cls) ?? [];
      const why = `${builder} creates ${cs.length} unnamed ${cls} layer${cs.length === 1 ? '' : 's'} and the model has ${have.length}${have.length ? ` (${have.map((l) => l.name).join(', ')})` : ''}`;
      mismatch.push(...list.filter((c) => !c.isModel && auto.has(c.className)).map((call) => ({ call, why })));
      continue;
    }
    const score = [...byClass.values()].reduce((s, cs) => s + cs.length, 0);
    if (score > 0) candidates.push({ builder, byClass, score });
  }
  const best = Math.max(0, ...candidates.map((c) => c.score));
  const chosen = candidates.filter((c) => c.score === best && best > 0);
  if (chosen.length !== 1) {
    // No builder, or several, match the model: a guess would be a coin toss.
    const why = chosen.length > 1 ? `${chosen.map((c) => c.builder).join(' and ')} both build layers matching this model` : undefined;
    return { links: [], unlinked: why ? chosen.flatMap((c) => [...c.byClass.values()].flat().map((call) => ({ call, why }))) : mismatch };
  }
  const { builder, byClass } = chosen[0]!;
  const links: OrderLink[] = [];
  for (const [cls, cs] of byClass) {
    const sorted = [...cs].sort((a, b) => compareOrder(a.order, b.order));
    const named = auto.get(cls)!;
    sorted.forEach((call, k) => {
      const layer = named[k]!;
      const offset = named[0]!.index;
      const spelled = cls === 'InputLayer' ? 'Input' : cls;
      const which = sorted.length === 1 ? `the only unnamed ${spelled}( call` : `the ${ordinal(k + 1)} of the ${sorted.length} unnamed ${spelled}( calls`;
      links.push({
        layer: layer.name, call,
        how: `creation order: ${which} run by ${call.label === builder ? builder : `${call.label} (called once from ${builder})`} is the model's ${layer.name}`
          // Keras 2 numbers Input layers from input_1: an offset there says nothing.
          + (offset > 0 && cls !== 'InputLayer'
            ? ` (Keras numbered this model's ${cls} layers from ${named[0]!.name}: others were created earlier in the same Python session)` : ''),
      });
    });
  }
  const unlinked = (builders.get(builder) ?? []).filter((c) => c.ambiguous && auto.has(c.className))
    .map((call) => ({ call, why: call.ambiguous! }));
  return { links, unlinked };
}

/** The model's layers that carry Keras's automatic names, per class, in Keras-number order. */
function autoNamedByClass(layers: ModelLayerRef[], callClasses: ReadonlySet<string>): Map<string, Array<{ name: string; index: number }>> {
  const out = new Map<string, Array<{ name: string; index: number }>>();
  const autoIndex = (name: string, cls: string): number | undefined => {
    const base = cls === 'InputLayer' ? '(?:input_layer|input)' : escapeRegExp(kerasSnakeCase(cls));
    const m = new RegExp(`^${base}(?:_(\\d+))?$`).exec(name);
    return m ? (m[1] ? Number(m[1]) : 0) : undefined;
  };
  for (const l of layers) {
    // A layer of unknown class (converted graph model) counts for the called class whose auto-name it has.
    const cls = l.className || [...callClasses].find((c) => autoIndex(l.name, c) !== undefined);
    const index = cls ? autoIndex(l.name, cls) : undefined;
    if (cls === undefined || index === undefined) continue;
    out.set(cls, [...(out.get(cls) ?? []), { name: l.name, index }]);
  }
  for (const list of out.values()) list.sort((a, b) => a.index - b.index);
  return out;
}

interface KerasImports { any: boolean; modules: Set<string>; classes: Map<string, string> }

/** Names that refer to Keras layer modules and classes, from the file's imports. */
function kerasImports(tokens: Token[]): KerasImports {
  const modules = new Set(['layers']);
  const classes = new Map<string, string>();
  let any = false;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'id' && (t.text === 'keras' || t.text === 'tensorflow')) any = true;
    if (t.text !== 'from' && t.text !== 'import') continue;
    const mod = dottedNameEndingAt(tokens, dottedEnd(tokens, i + 1));
    if (!mod || !mod.parts.includes('keras')) continue;
    const next = dottedEnd(tokens, i + 1) + 1;
    const modName = mod.parts.join('.');
    if (t.text === 'import') {
      if (/\.layers$/.test(modName) && tokens[next]?.text === 'as' && tokens[next + 1]) modules.add(tokens[next + 1]!.text);
      continue;
    }
    if (tokens[next]?.text !== 'import') continue;
    let j = next + 1;
    if (tokens[j]?.text === '(') j++;
    while (tokens[j]?.kind === 'id') {
      const name = tokens[j]!.text;
      let alias = name;
      if (tokens[j + 1]?.text === 'as' && tokens[j + 2]?.kind === 'id') { alias = tokens[j + 2]!.text; j += 2; }
      if (name === 'layers') modules.add(alias);
      else if (/^[A-Z]/.test(name) || name in MERGE_FUNCTIONS) classes.set(alias, MERGE_FUNCTIONS[name] ?? name);
      j++;
      if (tokens[j]?.text !== ',') break;
      j++;
    }
  }
  return { any, modules, classes };
}

function dottedEnd(tokens: Token[], start: number): number {
  let j = start;
  while (tokens[j + 1]?.text === '.' && tokens[j + 2]?.kind === 'id') j += 2;
  return j;
}

function kerasClassOf(parts: string[], imports: KerasImports): string | undefined {
  const last = parts[parts.length - 1]!;
  if (parts.length === 1) {
    const cls = imports.classes.get(last);
    return cls === 'Input' ? 'InputLayer' : cls;
  }
  const owner = parts[parts.length - 2]!;
  const isLayers = imports.modules.has(owner);
  if (last === 'Input' && (isLayers || KERAS_ROOTS.has(owner))) return 'InputLayer';
  if (MODEL_CLASSES.has(last) && (KERAS_ROOTS.has(owner) || isLayers)) return last === 'Model' ? 'Functional' : last;
  if (!isLayers) return undefined;
  if (last in MERGE_FUNCTIONS) return MERGE_FUNCTIONS[last];
  return /^[A-Z]/.test(last) && last !== 'Layer' ? last : undefined;
}

/** `def`, `class`, `for` and `while` blocks: from their keyword to the next line indented no deeper. */
function blocksOf(tokens: Token[], lines: LineMap, textEnd: number): Block[] {
  // First token of each logical line (outside brackets) with its indentation.
  const starts: Array<{ index: number; indent: number; line: number }> = [];
  let depth = 0;
  let lastLine = -1;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const pos = lines.position(t.start);
    if (pos.line !== lastLine && depth === 0) starts.push({ index: i, indent: pos.column, line: pos.line });
    lastLine = pos.line;
    if (t.kind === 'punct') {
      if (t.text === '(' || t.text === '[' || t.text === '{') depth++;
      else if ((t.text === ')' || t.text === ']' || t.text === '}') && depth > 0) depth--;
    }
  }
  const blocks: Block[] = [];
  starts.forEach((s, k) => {
    let i = s.index;
    if (tokens[i]!.text === 'async') i++;
    const kw = tokens[i]!.text;
    if (kw !== 'def' && kw !== 'class' && !LOOPS.has(kw)) return;
    const end = starts.slice(k + 1).find((n) => n.indent <= s.indent);
    blocks.push({ kind: kw, name: tokens[i + 1]?.text ?? '', line: s.line, indent: s.indent,
      start: tokens[s.index]!.start, end: end ? tokens[end.index]!.start : textEnd });
  });
  return blocks;
}

/** Calls of function `def` outside its own body: `name(` not preceded by `def` or `.`. */
function callSites(tokens: Token[], def: Block): Array<{ offset: number; close: number }> {
  const out: Array<{ offset: number; close: number }> = [];
  for (let i = 0; i < tokens.length - 1; i++) {
    const t = tokens[i]!;
    if (t.kind !== 'id' || t.text !== def.name || tokens[i + 1]!.text !== '(') continue;
    if (['def', '.'].includes(tokens[i - 1]?.text ?? '') || (t.start >= def.start && t.start < def.end)) continue;
    out.push({ offset: t.start, close: tokens[matchingClose(tokens, i + 1)]?.start ?? t.start });
  }
  return out;
}

/** A bracket around token `at` that holds a `for` at its own level is a comprehension: a loop. */
function comprehensionAround(tokens: Token[], at: number): string | undefined {
  const stack: number[] = [];
  for (let i = 0; i < at; i++) {
    const t = tokens[i]!;
    if (t.kind !== 'punct') continue;
    if (t.text === '(' || t.text === '[' || t.text === '{') stack.push(i);
    else if (t.text === ')' || t.text === ']' || t.text === '}') stack.pop();
  }
  for (const open of stack) {
    const close = matchingClose(tokens, open);
    let depth = 0;
    for (let i = open + 1; i < close; i++) {
      const t = tokens[i]!;
      if (t.kind === 'punct' && '([{'.includes(t.text)) depth++;
      else if (t.kind === 'punct' && ')]}'.includes(t.text)) depth--;
      else if (depth === 0 && t.kind === 'id' && t.text === 'for') return 'it is built in a comprehension (a loop)';
    }
  }
  return undefined;
}

function compareOrder(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function ordinal(n: number): string {
  const s = n % 100 >= 11 && n % 100 <= 13 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[n % 10] ?? 'th';
  return `${n}${s}`;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// Layer definitions in Python: Keras layers named with `name=`, and PyTorch modules named by the
// attribute they are assigned to (`self.conv1 = nn.Conv2d(...)` → `conv1`), including the
// children of `nn.Sequential` / `nn.ModuleList` / `nn.ModuleDict` (`features.0`, `head.fc`).
import { collectMentions, stringArg } from './calls';
import { parsePython } from './pyParse';
import { dottedNameEndingAt, LineMap, matchingClose, splitTopLevel, tokenize, type Token } from './tokens';
import type { FileScan, LayerDefinition } from './types';

interface Ctx {
  file: string;
  tokens: Token[];
  lines: LineMap;
  /** Names that refer to a Keras layers module: `layers`, or an alias such as `L`. */
  kerasModules: Set<string>;
  /** Classes imported directly from a layers module: `from keras.layers import Dense`. */
  kerasClasses: Set<string>;
  /** Names that refer to torch.nn: `nn`, or an alias. */
  torchModules: Set<string>;
  /** Classes defined in this file that derive from a torch module (custom blocks). */
  torchClasses: Set<string>;
  out: LayerDefinition[];
}

export function scanPython(file: string, text: string): FileScan {
  const tokens = tokenize(text, 'python');
  const lines = new LineMap(text);
  const ctx: Ctx = {
    file, tokens, lines,
    kerasModules: new Set(['layers']),
    kerasClasses: new Set(),
    torchModules: new Set(['nn']),
    torchClasses: new Set(),
    out: [],
  };
  readImportsAndClasses(ctx);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'punct' && t.text === '(') kerasCall(ctx, i);
    if (t.kind === 'id' && t.text === 'self') torchAttribute(ctx, i);
    if (t.kind === 'id' && t.text === 'add_module') torchAddModule(ctx, i);
    if (t.kind === 'punct' && t.text === '=') torchTopLevelContainer(ctx, i);
  }
  return { definitions: ctx.out, mentions: collectMentions(tokens, lines), python: parsePython(text, tokens, lines) };
}

/** Collects import aliases and `class X(nn.Module)` definitions. */
function readImportsAndClasses(ctx: Ctx): void {
  const { tokens } = ctx;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind !== 'id') continue;
    if (t.text === 'from') {
      // from <module> import a [as b], ...
      const mod = dottedNameForward(tokens, i + 1);
      if (!mod || tokens[mod.next]?.text !== 'import') continue;
      const names = importedNames(tokens, mod.next + 1);
      const modName = mod.parts.join('.');
      for (const { name, alias } of names) {
        if (name === 'layers' && /(^|\.)keras$/.test(modName)) ctx.kerasModules.add(alias);
        else if (name === 'nn' && modName === 'torch') ctx.torchModules.add(alias);
        else if (/(^|\.)layers$/.test(modName) && /keras/.test(modName)) ctx.kerasClasses.add(alias);
        else if (modName === 'torch.nn' && /^[A-Z]/.test(name)) ctx.torchClasses.add(alias);
      }
    } else if (t.text === 'import' && tokens[i - 1]?.text !== 'from' && !isAfterFromModule(tokens, i)) {
      // import a.b.c as x
      const mod = dottedNameForward(tokens, i + 1);
      if (!mod || tokens[mod.next]?.text !== 'as' || tokens[mod.next + 1]?.kind !== 'id') continue;
      const modName = mod.parts.join('.');
      const alias = tokens[mod.next + 1]!.text;
      // `hub.KerasLayer(..., name=...)` is a Keras layer too (TF Hub models wrapped in a Keras model).
      if (/(^|\.)keras\.layers$/.test(modName) || modName === 'tensorflow_hub') ctx.kerasModules.add(alias);
      else if (modName === 'torch.nn') ctx.torchModules.add(alias);
    } else if (t.text === 'class' && tokens[i + 1]?.kind === 'id' && tokens[i + 2]?.text === '(') {
      const close = matchingClose(tokens, i + 2);
      for (const [s, e] of splitTopLevel(tokens, i + 2, close)) {
        const base = dottedNameEndingAt(tokens, e - 1);
        if (!base || base.first !== s) continue;
        const last = base.parts[base.parts.length - 1]!;
        const owner = base.parts[base.parts.length - 2];
        const isTorchBase = (last === 'Module' && (owner === undefined || ctx.torchModules.has(owner)))
          || ctx.torchClasses.has(last);
        if (isTorchBase) ctx.torchClasses.add(tokens[i + 1]!.text);
      }
    }
  }
}

function isAfterFromModule(tokens: Token[], i: number): boolean {
  // `from a.b import c`: walk back over the dotted module name to see a `from`.
  const mod = dottedNameEndingAt(tokens, i - 1);
  return mod !== null && tokens[mod.first - 1]?.text === 'from';
}

function dottedNameForward(tokens: Token[], i: number): { parts: string[]; next: number } | null {
  const parts: string[] = [];
  let j = i;
  while (tokens[j]?.text === '.') { parts.push(''); j++; } // relative imports
  if (tokens[j]?.kind !== 'id') return parts.length ? { parts, next: j } : null;
  parts.push(tokens[j]!.text);
  j++;
  while (tokens[j]?.text === '.' && tokens[j + 1]?.kind === 'id') {
    parts.push(tokens[j + 1]!.text);
    j += 2;
  }
  return { parts: parts.filter((p) => p !== ''), next: j };
}

function importedNames(tokens: Token[], i: number): Array<{ name: string; alias: string }> {
  const names: Array<{ name: string; alias: string }> = [];
  let j = i;
  const paren = tokens[j]?.text === '(';
  if (paren) j++;
  while (tokens[j]?.kind === 'id') {
    const name = tokens[j]!.text;
    let alias = name;
    j++;
    if (tokens[j]?.text === 'as' && tokens[j + 1]?.kind === 'id') {
      alias = tokens[j + 1]!.text;
      j += 2;
    }
    names.push({ name, alias });
    if (tokens[j]?.text !== ',') break;
    j++;
  }
  return names;
}

/** `layers.Conv2D(..., name="conv1")`, `tf.keras.layers.Dense(10, name='logits')`, `Dense(..., name=...)`. */
function kerasCall(ctx: Ctx, open: number): void {
  const { tokens } = ctx;
  const callee = dottedNameEndingAt(tokens, open - 1);
  if (!callee) return;
  const before = tokens[callee.first - 1];
  if (before?.text === 'def' || before?.text === 'class' || before?.text === '.') return;
  const { parts } = callee;
  const className = parts[parts.length - 1]!;
  if (!/^[A-Z]/.test(className)) return;
  const isKeras = parts.length >= 2
    ? ctx.kerasModules.has(parts[parts.length - 2]!)
    : ctx.kerasClasses.has(className);
  if (!isKeras) return;
  const close = matchingClose(tokens, open);
  for (const [s, e] of splitTopLevel(tokens, open, close)) {
    if (tokens[s]!.text !== 'name' || tokens[s + 1]?.text !== '=') continue;
    const nameToken = stringArg(tokens, [s + 2, e]);
    if (!nameToken) return;
    push(ctx, nameToken.value!, tokens[callee.first]!, nameToken, 'keras', className);
    return;
  }
}

/** `self.conv1 = nn.Conv2d(...)` and `self.features = nn.Sequential(...)`. */
function torchAttribute(ctx: Ctx, i: number): void {
  const { tokens } = ctx;
  if (tokens[i - 1]?.text === '.') return;
  if (tokens[i + 1]?.text !== '.' || tokens[i + 2]?.kind !== 'id' || tokens[i + 3]?.text !== '=') return;
  torchModuleAt(ctx, i + 4, tokens[i + 2]!.text, tokens[i + 2]!);
}

/** `self.add_module("conv1", nn.Conv2d(...))`. */
function torchAddModule(ctx: Ctx, i: number): void {
  const { tokens } = ctx;
  if (tokens[i - 1]?.text !== '.' || tokens[i + 1]?.text !== '(') return;
  const args = splitTopLevel(tokens, i + 1, matchingClose(tokens, i + 1));
  if (args.length < 2) return;
  const nameToken = stringArg(tokens, args[0]!);
  if (!nameToken) return;
  torchModuleAt(ctx, args[1]![0], nameToken.value!, nameToken, args[1]![1]);
}

/** `model = nn.Sequential(...)` at module level: its children are named `0`, `1`, ... */
function torchTopLevelContainer(ctx: Ctx, eq: number): void {
  const { tokens } = ctx;
  const target = tokens[eq - 1];
  if (target?.kind !== 'id' || tokens[eq - 2]?.text === '.') return;
  if (ctx.lines.position(target.start).column !== 0) return; // a local inside a function is not the model
  const callee = calleeAt(tokens, eq + 1);
  if (!callee || !isTorchClass(ctx, callee.parts)) return;
  const className = callee.parts[callee.parts.length - 1]!;
  if (className !== 'Sequential' && className !== 'ModuleList' && className !== 'ModuleDict') return;
  torchChildren(ctx, '', className, callee.open);
}

/**
 * A module created by the expression starting at token `start` (a call to nn.X or to a module class
 * defined in this file), named `name`; recurses into containers.
 */
function torchModuleAt(ctx: Ctx, start: number, name: string, nameToken: Token, end = Infinity): void {
  const callee = calleeAt(ctx.tokens, start);
  if (!callee || callee.open >= end || !isTorchClass(ctx, callee.parts)) return;
  const className = callee.parts[callee.parts.length - 1]!;
  push(ctx, name, ctx.tokens[start]!, nameToken, 'pytorch', className);
  torchChildren(ctx, name + '.', className, callee.open);
}

function torchChildren(ctx: Ctx, prefix: string, className: string, open: number): void {
  const { tokens } = ctx;
  const close = matchingClose(tokens, open);
  const args = splitTopLevel(tokens, open, close);
  if (className === 'Sequential') {
    // nn.Sequential(OrderedDict([("conv", nn.Conv2d(...)), ...])) names its children.
    const ordered = args.length === 1 ? calleeAt(tokens, args[0]![0]) : null;
    if (ordered && ordered.parts[ordered.parts.length - 1] === 'OrderedDict') {
      const listOpen = ordered.open + 1;
      if (tokens[listOpen]?.text !== '[') return;
      for (const [s, e] of splitTopLevel(tokens, listOpen, matchingClose(tokens, listOpen))) {
        if (tokens[s]!.text !== '(') continue;
        const pair = splitTopLevel(tokens, s, matchingClose(tokens, s));
        if (pair.length !== 2 || pair[1]![1] > e) continue;
        const key = stringArg(tokens, pair[0]!);
        if (key) torchModuleAt(ctx, pair[1]![0], prefix + key.value!, key, pair[1]![1]);
      }
      return;
    }
    args.forEach(([s, e], index) => torchModuleAt(ctx, s, prefix + index, tokens[s]!, e));
  } else if (className === 'ModuleList' && args.length === 1 && tokens[args[0]![0]]!.text === '[') {
    const listOpen = args[0]![0];
    splitTopLevel(tokens, listOpen, matchingClose(tokens, listOpen))
      .forEach(([s, e], index) => torchModuleAt(ctx, s, prefix + index, tokens[s]!, e));
  } else if (className === 'ModuleDict' && args.length === 1 && tokens[args[0]![0]]!.text === '{') {
    const dictOpen = args[0]![0];
    for (const [s, e] of splitTopLevel(tokens, dictOpen, matchingClose(tokens, dictOpen))) {
      const key = tokens[s]!;
      if (key.kind !== 'str' || key.value == null || tokens[s + 1]?.text !== ':') continue;
      torchModuleAt(ctx, s + 2, prefix + key.value, key, e);
    }
  }
}

/** A call `a.b.C(` starting exactly at token `start`. */
function calleeAt(tokens: Token[], start: number): { parts: string[]; open: number } | null {
  if (tokens[start]?.kind !== 'id') return null;
  let j = start;
  while (tokens[j + 1]?.text === '.' && tokens[j + 2]?.kind === 'id') j += 2;
  if (tokens[j + 1]?.text !== '(') return null;
  return { parts: dottedNameEndingAt(tokens, j)!.parts, open: j + 1 };
}

function isTorchClass(ctx: Ctx, parts: string[]): boolean {
  const last = parts[parts.length - 1]!;
  if (!/^[A-Z]/.test(last)) return false;
  if (parts.length >= 2) return ctx.torchModules.has(parts[parts.length - 2]!);
  return ctx.torchClasses.has(last);
}

function push(ctx: Ctx, name: string, callToken: Token, nameToken: Token, framework: LayerDefinition['framework'], className: string): void {
  const call = ctx.lines.position(callToken.start);
  const at = ctx.lines.position(nameToken.start);
  ctx.out.push({
    name, file: ctx.file, line: call.line, column: call.column, nameLine: at.line, nameColumn: at.column,
    framework, className,
  });
}

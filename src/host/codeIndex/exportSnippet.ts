/**
 * A ready-to-run Python snippet that exports a PyTorch checkpoint to ONNX, for a checkpoint Loupe
 * cannot read (unpickling runs code: Loupe never does it). The snippet rebuilds the model the way the
 * workspace's script that saved the checkpoint built it (its class, import and arguments), loads the
 * weights and calls torch.onnx.export. What Loupe could not tell is a clearly marked placeholder or a
 * `# check:` comment. Pure: the caller passes the index and the files' text.
 */
import * as path from 'node:path';
import { forEachExpr, type Expr, type PyImport, type PyModule, type Stmt } from './pyAst';
import { namesModel, type LayerIndex } from './index';
import { SAME_MODULE_METHODS, stateDictOwner, type TorchWorkspace } from './pytorch';

export interface SnippetRequest {
  /** The checkpoint (.pt, .pth, .ckpt), absolute. */
  checkpoint: string;
  workspaceRoot?: string;
  index: LayerIndex;
  /** The source text of an indexed file (to quote the model's constructor call). */
  text(file: string): string | undefined;
  /** The input of a model Loupe already read beside the checkpoint (an earlier export), used when no script says. */
  knownInput?: { channels: number; height: number; width: number; from: string };
}

export interface CheckpointSnippet {
  /** The Python source. */
  text: string;
  /** Where the ONNX file will be written. */
  onnxPath: string;
  /** The script that saves the checkpoint (0-based line of its torch.save), when found. */
  writer?: { file: string; line: number };
  /** How the model is built, when found: a class of the workspace or a library call. */
  model?: { kind: 'class' | 'library'; name: string; file?: string };
  /** The input the export feeds: from the scripts when obvious (`from` says where), else 3×224×224. */
  input: { channels: number; height: number; width: number; from?: string };
}

interface Body {
  statements: Stmt[];
  index: number;
}

const DEFAULT_INPUT = { channels: 3, height: 224, width: 224 };
const TENSOR_FACTORIES = new Set(['randn', 'rand', 'zeros', 'ones', 'empty', 'randn_like']);
const SIZE_TRANSFORMS = new Set(['Resize', 'CenterCrop', 'RandomResizedCrop', 'RandomCrop']);
const SIZE_CONSTANT = /^(IMG|IMAGE|INPUT|CROP)?_?(SIZE|RES|RESOLUTION)$/;
const PY_BUILTINS = new Set(['len', 'int', 'float', 'str', 'list', 'tuple', 'dict', 'range', 'max', 'min', 'sum', 'round', 'abs', 'print', 'bool']);

export function checkpointSnippet(request: SnippetRequest): CheckpointSnippet {
  const { checkpoint, index } = request;
  const torch = index.torch();
  const stem = path.basename(checkpoint).replace(/\.[^.]+$/, '');
  const onnxPath = path.join(path.dirname(checkpoint), `${stem}.onnx`);
  const shown = (f: string): string => (request.workspaceRoot ? path.relative(request.workspaceRoot, f) || path.basename(f) : f);

  const found = findWriter(request);
  const lines: string[] = [
    `# Export ${shown(checkpoint)} to ONNX so that Loupe can analyse it (Loupe does not unpickle checkpoints).`,
  ];
  if (!found) {
    const input = request.knownInput ?? DEFAULT_INPUT;
    lines.push(
      `# Loupe found no script in the workspace that saves ${path.basename(checkpoint)} (torch.save(model.state_dict(), "${path.basename(checkpoint)}")).`,
      '# Fill in the PLACEHOLDER lines, check the input size, then run this with the Python of your training environment.',
      'import inspect',
      '',
      'import torch',
      '',
      '# >>> PLACEHOLDER: import your model class and build the model exactly as in training, e.g.',
      '# >>>     from my_project.models import MyNet',
      'model = MyNet()  # PLACEHOLDER: the class and arguments the checkpoint was trained with',
      ...loadLines(checkpoint, 'state_dict', undefined),
      ...exportLines(input, onnxPath, request.knownInput
        ? `# Input: 1 image, ${input.channels}×${input.height}×${input.width} (C×H×W), ${request.knownInput.from}. check: the size the model was trained on.`
        : `# Input: ${input.channels}×${input.height}×${input.width} assumed (no script says): use the size the model was trained on.`),
    );
    return { text: `${lines.join('\n')}\n`, onnxPath, input };
  }

  const { file, module, save, body } = found;
  const saveStmt = body.statements[body.index]!;
  const saved = saveStmt.kind === 'expr' && saveStmt.value.kind === 'call' ? saveStmt.value.args.find((a) => !a.name && !a.star)?.value : undefined;
  const kind = saved ? checkpointKind(saved) : { kind: 'state_dict' as const };
  const owner = saved ? stateDictOwner(saved) : undefined;
  const ownerVar = owner?.kind === 'name' && owner.parts.length === 1 ? owner.parts[0]! : undefined;
  const assigned = ownerVar ? torch.assignmentOf(body.statements, body.index, ownerVar) : -1;
  const assign = assigned >= 0 ? body.statements[assigned] : undefined;
  const construct = assign?.kind === 'assign' ? constructorCall(assign.value) : undefined;
  const built = construct ? torch.describeModel(file, body.statements, assigned, construct) : undefined;
  const source = request.text(file);
  const callText = construct?.kind === 'call' && source ? source.slice(construct.span[0], construct.span[1]).replace(/\s*\n\s*/g, ' ') : undefined;

  lines.push(
    `# Written from ${shown(file)}, which saves it on line ${save.line + 1}; Loupe copied how that script builds the model.`,
    '# Check the lines marked "check:", then run this with the Python of your training environment.',
    'import inspect',
    'import sys',
    '',
    'import torch',
    '',
    `sys.path.insert(0, ${pyString(path.dirname(file))})  # the folder of ${path.basename(file)}, so that its imports work as when it ran`,
  );

  let model: CheckpointSnippet['model'];
  if (built && callText && construct?.kind === 'call') {
    const { imports, unresolved, fromScript } = importsFor(construct, module, file, body, torch);
    lines.push(...imports);
    if (fromScript && !module.mainGuard && hasTopLevelWork(module)) {
      lines.push(`# check: importing ${path.basename(file)} runs its top-level statements (its training, perhaps): put them under`,
        '#        if __name__ == "__main__":  or copy the class definition here instead of importing it.');
    }
    for (const u of unresolved) lines.push(`# check: ${u.name} is computed in ${path.basename(file)} (line ${u.line + 1}); give it the value it had in training.`);
    // A whole pickled model needs its class importable, not built: torch.load rebuilds it.
    if (kind.kind !== 'whole') lines.push('', `model = ${callText}  # as on line ${construct.at.line + 1} of ${path.basename(file)}`);
    model = built.kind === 'class'
      ? { kind: 'class', name: built.name, file: built.file }
      : { kind: 'library', name: built.qualified };
  } else {
    lines.push(
      '',
      `# >>> PLACEHOLDER: Loupe could not tell how ${path.basename(file)} builds ${ownerVar ?? 'the model'} (line ${save.line + 1} saves it).`,
      '# >>> Import the model class and build the model exactly as in training.',
      'model = MyNet()  # PLACEHOLDER: the class and arguments the checkpoint was trained with',
    );
  }
  lines.push(...loadLines(checkpoint, kind.kind, kind.kind === 'dict' ? kind.key : undefined));

  const classFile = model?.kind === 'class' && model.file ? [model.file] : [];
  const fromScripts = inputSize([file, ...classFile.filter((f) => f !== file)], index, torch, model?.kind === 'class' ? model.name : undefined, shown);
  const input = fromScripts.from || !request.knownInput ? fromScripts : request.knownInput;
  const note = input.from
    ? `# Input: 1 image, ${input.channels}×${input.height}×${input.width} (C×H×W), ${input.from}. check: the size the model was trained on.`
    : `# Input: ${input.channels}×${input.height}×${input.width} assumed (no size found in ${path.basename(file)}). check: use the size the model was trained on.`;
  lines.push(...exportLines(input, onnxPath, note));
  return { text: `${lines.join('\n')}\n`, onnxPath, writer: { file, line: save.line }, ...(model ? { model } : {}), input };
}

/** The script that saves the checkpoint: a torch.save whose path names it (directly, or through a constant it assigns). */
function findWriter(request: SnippetRequest): { file: string; module: PyModule; save: { line: number }; body: Body } | undefined {
  const { checkpoint, index, workspaceRoot } = request;
  const torch = index.torch();
  const candidates: Array<{ file: string; module: PyModule; direct: boolean }> = [];
  for (const [file, scan] of index.scans()) {
    if (!scan.python) continue;
    const naming = scan.mentions.filter((m) => namesModel(m.value, file, checkpoint, workspaceRoot) === 'model');
    if (naming.length === 0) continue;
    candidates.push({ file, module: scan.python, direct: naming.some((m) => m.saveCall !== undefined && /(^|\.)save$/.test(m.saveCall)) });
  }
  candidates.sort((a, b) => Number(b.direct) - Number(a.direct) || steps(a.file, checkpoint) - steps(b.file, checkpoint) || a.file.localeCompare(b.file));
  const name = path.basename(checkpoint);
  for (const c of candidates) {
    const saves: Array<{ body: Body; names: boolean; line: number }> = [];
    const bodies = [c.module.topLevel, ...c.module.functions.map((f) => f.body), ...c.module.classes.flatMap((k) => k.methods.map((m) => m.body))];
    for (const statements of bodies) {
      statements.forEach((st, i) => {
        if (st.kind !== 'expr' || st.value.kind !== 'call' || st.value.callee.kind !== 'name') return;
        if (torch.qualifiedName(c.file, st.value.callee.parts) !== 'torch.save') return;
        let names = false;
        forEachExpr(st.value, (e) => { if (e.kind === 'str' && path.basename(e.value) === name) names = true; });
        saves.push({ body: { statements, index: i }, names, line: st.at.line });
      });
    }
    const save = saves.find((s) => s.names) ?? (saves.length === 1 ? saves[0] : undefined);
    if (save) return { file: c.file, module: c.module, save: { line: save.line }, body: save.body };
  }
  return undefined;
}

/** `model.state_dict()` → state dict; `model` → the whole pickled model; `{"model": model.state_dict(), …}` → a dict entry. */
function checkpointKind(saved: Expr): { kind: 'state_dict' } | { kind: 'whole' } | { kind: 'dict'; key: string } {
  if (saved.kind === 'name') return { kind: 'whole' };
  if (saved.kind === 'dict') {
    for (const { key, value } of saved.entries) {
      if (key.kind === 'str' && value.kind === 'call' && value.callee.kind === 'name' && value.callee.parts.at(-1) === 'state_dict') {
        return { kind: 'dict', key: key.value };
      }
    }
  }
  return { kind: 'state_dict' };
}

/** `Net(…).to(device).eval()` → `Net(…)`. */
function constructorCall(e: Expr): Expr {
  let cur = e;
  while (cur.kind === 'call' && cur.callee.kind === 'getattr' && SAME_MODULE_METHODS.has(cur.callee.name)) cur = cur.callee.object;
  return cur;
}

/**
 * The import lines the constructor call needs: names the script imports (copied), names the script
 * defines at its top level (imported from it), and locals of its function (reported to check).
 */
function importsFor(call: Expr, module: PyModule, file: string, body: Body, torch: TorchWorkspace): {
  imports: string[]; unresolved: Array<{ name: string; line: number }>; fromScript: boolean;
} {
  const names = new Set<string>();
  forEachExpr(call, (e) => { if (e.kind === 'name') names.add(e.parts[0]!); });
  const imports: string[] = [];
  const fromScript: string[] = [];
  const unresolved: Array<{ name: string; line: number }> = [];
  const topAssigned = (n: string): boolean => module.topLevel.some((st) => st.kind === 'assign' && st.targets.some((t) => t.kind === 'name' && t.parts.length === 1 && t.parts[0] === n));
  for (const n of names) {
    if (n === 'torch' || PY_BUILTINS.has(n)) continue;
    const imp = module.imports.get(n);
    if (imp) {
      imports.push(importLine(n, imp));
      continue;
    }
    if (module.classes.some((c) => c.name === n) || module.functions.some((f) => f.name === n) || topAssigned(n)) {
      fromScript.push(n);
      continue;
    }
    const local = body.statements === module.topLevel ? -1 : torch.assignmentOf(body.statements, body.index, n);
    unresolved.push({ name: n, line: local >= 0 ? body.statements[local]!.at.line : body.statements[body.index]!.at.line });
  }
  const scriptModule = path.basename(file).replace(/\.pyw?$/, '');
  if (fromScript.length) imports.push(`from ${scriptModule} import ${fromScript.join(', ')}`);
  return { imports: [...new Set(imports)], unresolved, fromScript: fromScript.length > 0 };
}

function importLine(alias: string, imp: PyImport): string {
  if (imp.name) return `from ${imp.module} import ${imp.name}${imp.name === alias ? '' : ` as ${alias}`}`;
  return imp.module === alias ? `import ${alias}` : `import ${imp.module} as ${alias}`;
}

/** A script that trains at import time: top-level calls other than the usual set-up. */
function hasTopLevelWork(module: PyModule): boolean {
  return module.topLevel.some((st) => st.kind === 'expr' && st.value.kind === 'call');
}

function loadLines(checkpoint: string, kind: 'state_dict' | 'whole' | 'dict', key: string | undefined): string[] {
  const file = pyString(checkpoint);
  if (kind === 'whole') {
    return [
      '',
      '# The checkpoint holds the whole pickled model: loading it runs code from the file. Only do this with a file you trust.',
      `model = torch.load(${file}, map_location="cpu", **({"weights_only": False} if "weights_only" in inspect.signature(torch.load).parameters else {}))`,
      'model.eval()',
    ];
  }
  return [
    `state = torch.load(${file}, map_location="cpu")`,
    `model.load_state_dict(state${key !== undefined ? `[${pyString(key)}]` : ''})`,
    'model.eval()',
  ];
}

function exportLines(input: { channels: number; height: number; width: number }, onnxPath: string, note: string): string[] {
  return [
    '',
    note,
    `dummy = torch.randn(1, ${input.channels}, ${input.height}, ${input.width})`,
    '# The TorchScript exporter keeps module paths in node names (layer1.0.conv1): Loupe links layers to your code by them.',
    'legacy = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}',
    `torch.onnx.export(model, dummy, ${pyString(onnxPath)}, opset_version=17,`,
    '                  input_names=["input"], output_names=["logits"], **legacy)',
    `print("wrote", ${pyString(onnxPath)})`,
  ];
}

/**
 * The input size the scripts use, when obvious: a dummy tensor `torch.randn(N, C, H, W)`, else a
 * resize/crop transform, else a SIZE-like constant; channels from the dummy tensor or the model's
 * first nn.Conv2d.
 */
function inputSize(files: string[], index: LayerIndex, torch: TorchWorkspace, className: string | undefined,
  shown: (f: string) => string): CheckpointSnippet['input'] {
  let hw: { height: number; width: number; from: string } | undefined;
  let channels: { value: number; from: string } | undefined;
  for (const file of files) {
    const module = index.scanOf(file)?.python;
    if (!module) continue;
    const ints = (e: Expr | undefined): number | undefined => intOf(e, module);
    const where = (line: number): string => `line ${line + 1} of ${shown(file)}`;
    for (const st of allStatements(module)) {
      forEachExpr(st.value, (e) => {
        if (e.kind !== 'call' || e.callee.kind !== 'name') return;
        const last = e.callee.parts.at(-1)!;
        const positional = e.args.filter((a) => !a.name && !a.star).map((a) => a.value);
        const dims = positional.length === 1 && positional[0]!.kind === 'list' ? positional[0].items : positional;
        if (TENSOR_FACTORIES.has(last) && torch.qualifiedName(file, e.callee.parts).startsWith('torch.') && dims.length === 4) {
          const [, c, h, w] = dims.map(ints);
          if (c !== undefined && h !== undefined && w !== undefined && !hw?.from.startsWith('from torch')) {
            hw = { height: h, width: w, from: `from torch.${last}(…) on ${where(e.at.line)}` };
            channels = { value: c, from: hw.from };
          }
        } else if (SIZE_TRANSFORMS.has(last) && !hw && positional[0]) {
          const arg = positional[0];
          const pair = arg.kind === 'list' && arg.items.length === 2 ? arg.items.map(ints) : [ints(arg), ints(arg)];
          if (pair[0] !== undefined && pair[1] !== undefined) hw = { height: pair[0], width: pair[1], from: `from ${last}(…) on ${where(e.at.line)}` };
        }
      });
      if (!hw && st.kind === 'assign' && st.targets.some((t) => t.kind === 'name' && t.parts.length === 1 && SIZE_CONSTANT.test(t.parts[0]!))) {
        const v = st.value;
        const pair = v.kind === 'list' && v.items.length === 2 ? v.items.map(ints) : [ints(v), ints(v)];
        if (pair[0] !== undefined && pair[1] !== undefined) hw = { height: pair[0], width: pair[1], from: `from the constant on ${where(st.at.line)}` };
      }
    }
    if (!channels && className) {
      const cls = module.classes.find((c) => c.name === className);
      for (const st of cls ? cls.methods.flatMap((m) => m.body) : []) {
        forEachExpr(st.value, (e) => {
          if (channels || e.kind !== 'call' || e.callee.kind !== 'name' || e.callee.parts.at(-1) !== 'Conv2d') return;
          const first = e.args.find((a) => a.name === 'in_channels') ?? e.args.find((a) => !a.name && !a.star);
          const c = intOf(first?.value, module);
          if (c !== undefined) channels = { value: c, from: `in_channels of the first nn.Conv2d, ${where(e.at.line)}` };
        });
      }
    }
  }
  if (!hw) return { ...DEFAULT_INPUT, ...(channels ? { channels: channels.value } : {}) };
  const from = channels && channels.from !== hw.from ? `${hw.from}; channels ${channels.from}` : hw.from;
  return { channels: channels?.value ?? 3, height: hw.height, width: hw.width, from };
}

function allStatements(module: PyModule): Stmt[] {
  return [...module.topLevel, ...module.functions.flatMap((f) => f.body), ...module.classes.flatMap((c) => c.methods.flatMap((m) => m.body))];
}

/** An integer literal, or a name the file assigns one at its top level. */
function intOf(e: Expr | undefined, module: PyModule): number | undefined {
  if (!e) return undefined;
  if (e.kind === 'num') return Number.isInteger(e.value) && e.value > 0 ? e.value : undefined;
  if (e.kind === 'name' && e.parts.length === 1) {
    for (let i = module.topLevel.length - 1; i >= 0; i--) {
      const st = module.topLevel[i]!;
      if (st.kind === 'assign' && st.value.kind === 'num' && st.targets.some((t) => t.kind === 'name' && t.parts.length === 1 && t.parts[0] === e.parts[0])) {
        return Number.isInteger(st.value.value) && st.value.value > 0 ? st.value.value : undefined;
      }
    }
  }
  return undefined;
}

/** A Python string literal for a path: raw when it holds backslashes (Windows), else plain. */
function pyString(text: string): string {
  if (!/[\\"]/.test(text)) return `"${text}"`;
  if (!text.includes('"') && !text.endsWith('\\')) return `r"${text}"`;
  return JSON.stringify(text);
}

function steps(from: string, to: string): number {
  const rel = path.relative(path.dirname(from), path.dirname(to));
  return rel === '' ? 0 : rel.split(path.sep).length;
}

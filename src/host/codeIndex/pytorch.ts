/**
 * PyTorch module paths (`layer4.1.conv2`, `features.18.0`) followed through the workspace's Python
 * source the way `nn.Module` builds them: attributes set in `__init__`, `nn.Sequential` /
 * `nn.ModuleList` / `nn.ModuleDict` children (also built from lists with `*` unpacking, `append`
 * loops and comprehensions), helpers that return them (`self._make_layer(Block, …)`), classes passed
 * as arguments, and classes imported from other files. A path that enters a library (torchvision,
 * timm) or something Loupe cannot follow with confidence stops at the deepest line it could
 * resolve, and says why. Pure: it reads parsed files (pyAst.ts), never the disk.
 */
import * as path from 'node:path';
import { forEachExpr, stmtExprs, type Arg, type Expr, type PyClass, type PyFunction, type PyImport, type PyModule, type Stmt } from './pyAst';

export interface PyFile {
  file: string;
  module: PyModule;
}

/** A place in a source file: the code that creates a module, and the text that names it. Lines and columns 0-based. */
export interface Site {
  file: string;
  line: number;
  column: number;
  nameLine: number;
  nameColumn: number;
  nameLength: number;
}

export interface ModuleResolution {
  /** Where the path leads: the module's own line, or the deepest line Loupe could follow (see `caveat`). */
  site: Site;
  /** Class of the module at `site`: `Conv2d`, `BasicBlock`, `resnet18`. */
  className: string;
  /** False when the path stops before its last segment. */
  complete: boolean;
  /** Why the path stops short, for the hover and the quick pick. */
  caveat?: string;
  /** How each segment was followed (`layer4: self.layer4 = self._make_layer(…) → Sequential`). */
  trail: string[];
  /** Other files that build or export the model this path starts from (they rank the definition). */
  via: string[];
  /**
   * How likely the starting point is the model: 3 = a model a script exports or saves, 2 = a top-level
   * class or container, 1 = a class that other classes use as a block.
   */
  preference: number;
  /** The model is built by a library (torchvision.models.resnet18(…)): the site is that call. */
  library?: string;
}

interface ClassTarget {
  file: PyFile;
  cls: PyClass;
}

interface FunctionTarget {
  file: PyFile;
  fn: PyFunction;
  /** The class whose method this is. */
  owner?: ClassTarget;
}

interface Instance {
  kind: 'instance';
  cls: ClassTarget;
  args: Arg[];
  /** Where the arguments are evaluated. */
  env: Env;
  site: Site;
}

/** How many times an element occurs: exactly n (min = max), or a range (a condition: 0–1; a loop of unknown length: 0–∞). */
interface Count {
  min: number;
  max: number;
}

/** One element of a list or an nn.Sequential, occurring `count` times in a row. */
interface Item {
  value: Value;
  site: Site;
  count: Count;
  /** Why the count is not exact, for the message when an index cannot be placed. */
  why?: string;
  /** Stands for elements Loupe cannot list (`*xs` of an unknown list): an index that may land on it stops. */
  opaque?: boolean;
}

const ONCE: Count = { min: 1, max: 1 };

type Value =
  | Instance
  | { kind: 'leaf'; className: string; site: Site }
  | { kind: 'container'; className: string; items: Item[]; site: Site }
  | { kind: 'keyed'; className: string; entries: Map<string, Item>; site: Site }
  | { kind: 'library'; qualified: string; site: Site }
  | { kind: 'list'; items: Item[] }
  | { kind: 'dict'; entries: Map<string, Item> }
  | { kind: 'classref'; target: ClassTarget }
  | { kind: 'libclass'; qualified: string }
  | { kind: 'function'; target: FunctionTarget; self?: Instance }
  | { kind: 'libfunction'; qualified: string }
  | { kind: 'builtin'; name: string }
  | { kind: 'int'; value: number }
  | { kind: 'bool'; value: boolean }
  | { kind: 'str'; value: string }
  | { kind: 'none' }
  | { kind: 'unknown'; reason: string };

type Thunk = () => Value;

interface Env {
  file: PyFile;
  /** Statements of the function (or the file's top level) being evaluated. */
  body: Stmt[];
  /** Statements before this index have run. */
  at: number;
  params: Map<string, Thunk>;
  self?: Instance;
  depth: number;
}

/**
 * One segment followed. `unsure`: the class is certain but not which of several lines created this
 * module (a path that goes on is fine; one that ends here stops at the parent).
 */
type Step = { value: Value; site: Site; label: string; unsure?: string } | { stop: string };

/** Libraries whose models have no source in the workspace. */
const MODEL_LIBRARIES = ['torchvision', 'timm', 'transformers', 'segmentation_models_pytorch', 'efficientnet_pytorch', 'pretrainedmodels', 'torch.hub', 'ultralytics'];
/** Methods that return the module they are called on. */
export const SAME_MODULE_METHODS: ReadonlySet<string> = new Set(['to', 'cuda', 'cpu', 'eval', 'train', 'float', 'double', 'half', 'requires_grad_', 'share_memory', 'type', 'bfloat16']);
const WRAPPERS = new Set(['torch.nn.utils.spectral_norm', 'torch.nn.utils.weight_norm', 'torch.nn.utils.parametrizations.spectral_norm',
  'torch.nn.utils.parametrizations.weight_norm', 'torch.nn.DataParallel', 'torch.nn.parallel.DistributedDataParallel', 'torch.compile',
  'torch.jit.script', 'copy.deepcopy']);
const MAX_DEPTH = 40;

const unknown = (reason: string): Value => ({ kind: 'unknown', reason });

export class TorchWorkspace {
  private readonly files: PyFile[];
  private readonly classesByName = new Map<string, ClassTarget[]>();
  private readonly functionsByName = new Map<string, FunctionTarget[]>();
  private readonly filesByModule = new Map<string, PyFile[]>();
  private readonly byPath = new Map<string, PyFile>();
  /** Attribute name → classes whose methods set `self.<name>`. */
  private readonly classesByAttribute = new Map<string, ClassTarget[]>();
  /** Names of classes instantiated inside some class's methods (blocks, not models). */
  private readonly usedInClasses = new Set<string>();
  private readonly cache = new Map<string, ModuleResolution[]>();
  private readonly mros = new Map<PyClass, ClassTarget[]>();
  /** Attributes being evaluated, per instance: a module built from itself is reported, not followed forever. */
  private readonly evaluating = new WeakMap<Instance, Set<string>>();
  private roots: Root[] | undefined;

  constructor(files: Iterable<PyFile>) {
    this.files = [...files];
    for (const f of this.files) {
      this.byPath.set(f.file, f);
      for (const name of moduleNames(f.file)) push(this.filesByModule, name, f);
      for (const fn of f.module.functions) push(this.functionsByName, fn.name, { file: f, fn });
      // A class passed as an argument (`ResNet(BasicBlock, …)`) is a building block, not a model.
      for (const body of [f.module.topLevel, ...f.module.functions.map((fn) => fn.body)]) {
        for (const st of body) forEachArgumentName(st, (name) => this.usedInClasses.add(name));
      }
      for (const cls of f.module.classes) {
        const target = { file: f, cls };
        push(this.classesByName, cls.name, target);
        const attrs = new Set<string>();
        for (const m of cls.methods) {
          for (const st of m.body) {
            const named = setAttributeName(st);
            if (named) attrs.add(named.name);
            forEachCall(st, (callee) => { const last = calleeLast(callee); if (last && /^[A-Z]/.test(last)) this.usedInClasses.add(last); });
            forEachArgumentName(st, (name) => this.usedInClasses.add(name));
          }
        }
        for (const a of attrs) push(this.classesByAttribute, a, target);
      }
    }
  }

  /** Every place `modulePath` (a module path from an ONNX export, `layer4.1.conv2`) may be defined, best starting points first. */
  resolve(modulePath: string): ModuleResolution[] {
    const cached = this.cache.get(modulePath);
    if (cached) return cached;
    const segments = modulePath.split('.').filter((s) => s !== '');
    const out: ModuleResolution[] = [];
    if (segments.length) {
      for (const root of this.rootsFor(segments[0]!)) {
        const r = this.walk(root, segments);
        if (r) out.push(r);
      }
    }
    const result = dedupe(out);
    this.cache.set(modulePath, result);
    return result;
  }

  /** The `forward` method of the module at `modulePath` ('' = the model itself): where an op that belongs to no sub-module is written. */
  resolveForward(modulePath: string): ModuleResolution[] {
    const segments = modulePath.split('.').filter((s) => s !== '');
    const out: ModuleResolution[] = [];
    const roots = segments.length ? this.rootsFor(segments[0]!) : this.allRoots().filter((r) => r.preference >= 2);
    for (const root of roots) {
      const r = segments.length ? this.walk(root, segments) : undefined;
      const value = segments.length ? (r?.complete ? this.valueAt(root, segments) : undefined) : root.value;
      if (segments.length && !r) continue;
      if (value?.kind === 'instance') {
        const forward = this.mro(value.cls).flatMap((c) => c.cls.methods.map((m) => ({ c, m }))).find(({ m }) => m.name === 'forward');
        if (forward) {
          out.push({
            site: { file: forward.c.file.file, line: forward.m.at.line, column: forward.m.at.column, nameLine: forward.m.at.line, nameColumn: forward.m.at.column, nameLength: 'forward'.length },
            className: value.cls.cls.name, complete: true, trail: [...(r?.trail ?? []), `forward() of ${value.cls.cls.name}`],
            via: root.via, preference: root.preference,
          });
          continue;
        }
      }
      if (r) out.push({ ...r, complete: false, caveat: r.caveat ?? `Loupe found no forward() for ${modulePath || 'the model'}` });
    }
    return dedupe(out);
  }

  /** The parsed file, for callers that quote code (the export snippet). */
  file(file: string): PyFile | undefined {
    return this.byPath.get(file);
  }

  /** Classes named `name` in the workspace. */
  classesNamed(name: string): Array<{ file: string; cls: PyClass }> {
    return (this.classesByName.get(name) ?? []).map((t) => ({ file: t.file.file, cls: t.cls }));
  }

  /**
   * What expression `expr` (in `file`, at statement `at` of `body`) builds, described for the export
   * snippet: a local class (with the file defining it), a library model, or undefined.
   */
  describeModel(file: string, body: Stmt[], at: number, expr: Expr): { kind: 'class'; name: string; file: string; site: Site } | { kind: 'library'; qualified: string; site: Site } | undefined {
    const f = this.byPath.get(file);
    if (!f) return undefined;
    const v = this.eval(expr, { file: f, body, at, params: new Map(), depth: 0 });
    if (v.kind === 'instance') return { kind: 'class', name: v.cls.cls.name, file: v.cls.file.file, site: v.site };
    if (v.kind === 'library') return { kind: 'library', qualified: v.qualified, site: v.site };
    return undefined;
  }

  /** `nn.Conv2d` in `file` → `torch.nn.Conv2d`, through the file's imports. */
  qualifiedName(file: string, parts: string[]): string {
    const f = this.byPath.get(file);
    return f ? this.qualify(parts, f) : parts.join('.');
  }

  /** Where local `name` is last assigned before statement `at` of `body` in `file` (the statement index), or -1. */
  assignmentOf(body: Stmt[], at: number, name: string): number {
    for (let i = Math.min(at, body.length) - 1; i >= 0; i--) {
      const st = body[i]!;
      if (st.kind === 'assign' && st.targets.some((t) => isName(t, [name]))) return i;
    }
    return -1;
  }

  // ---- starting points ----------------------------------------------------------------------------

  private rootsFor(first: string): Root[] {
    const numeric = /^\d+$/.test(first);
    return this.allRoots().filter((r) => {
      if (r.value.kind === 'library') return true;
      if (r.value.kind === 'instance') {
        return numeric ? r.preference === 3 || this.libraryBases(r.value.cls).includes('torch.nn.Sequential')
          : this.mro(r.value.cls).some((c) => this.classSets(c, first));
      }
      return numeric ? r.value.kind === 'container' : r.value.kind === 'keyed';
    });
  }

  private classSets(c: ClassTarget, attr: string): boolean {
    return (this.classesByAttribute.get(attr) ?? []).some((t) => t.cls === c.cls);
  }

  /**
   * Models a script exports or saves (`torch.onnx.export(model, …)`, `torch.save(model.state_dict(), …)`),
   * containers built at a file's top level, models built by a library, and every nn.Module class.
   */
  private allRoots(): Root[] {
    if (this.roots) return this.roots;
    const roots: Root[] = [];
    const exported = new Set<PyClass>();
    for (const f of this.files) {
      const scopes: Stmt[][] = [f.module.topLevel, ...f.module.functions.map((fn) => fn.body)];
      for (const body of scopes) {
        body.forEach((st, i) => {
          const env: Env = { file: f, body, at: i, params: new Map(), depth: 0 };
          const exportedExpr = this.exportedModel(st, f);
          if (exportedExpr) {
            const value = this.eval(exportedExpr, env);
            if (isModule(value)) {
              if (value.kind === 'instance') exported.add(value.cls.cls);
              roots.push({ value, site: value.site, via: [f.file], preference: 3, label: describeValue(value) });
            }
            return;
          }
          // `model = torchvision.models.resnet18(…)` anywhere, and `model = nn.Sequential(…)` at the top level.
          if (st.kind !== 'assign' || st.value.kind !== 'call') return;
          const value = this.eval(st.value, env);
          if (value.kind === 'library' && isModelBuilder(value.qualified)) {
            roots.push({ value, site: value.site, via: [f.file], preference: 0, label: describeValue(value) });
          } else if ((value.kind === 'container' || value.kind === 'keyed') && body === f.module.topLevel && st.at.column === 0) {
            roots.push({ value, site: value.site, via: [f.file], preference: 2, label: describeValue(value) });
          }
        });
      }
    }
    for (const targets of this.classesByName.values()) {
      for (const target of targets) {
        if (!this.isTorchModule(target) || exported.has(target.cls)) continue;
        const site = siteOf(target.file.file, target.cls.at, target.cls.name.length);
        const env: Env = { file: target.file, body: target.file.module.topLevel, at: 0, params: new Map(), depth: 0 };
        const value: Instance = { kind: 'instance', cls: target, args: [], env, site };
        const via = this.instantiatedIn(target.cls.name);
        roots.push({ value, site, via, preference: this.usedInClasses.has(target.cls.name) ? 1 : 2, label: `class ${target.cls.name}` });
      }
    }
    this.roots = roots;
    return roots;
  }

  /** Files that instantiate class `name` outside class bodies (`model = Net()` in a script). */
  private instantiatedIn(name: string): string[] {
    const files: string[] = [];
    for (const f of this.files) {
      const bodies = [f.module.topLevel, ...f.module.functions.map((fn) => fn.body)];
      if (bodies.some((b) => b.some((st) => { let hit = false; forEachCall(st, (c) => { if (calleeLast(c) === name) hit = true; }); return hit; }))) files.push(f.file);
    }
    return files;
  }

  /** The model expression of `torch.onnx.export(m, …)` or `torch.save(m | m.state_dict() | {…: m.state_dict()}, …)`. */
  private exportedModel(st: Stmt, f: PyFile): Expr | undefined {
    if (st.kind !== 'expr' || st.value.kind !== 'call') return undefined;
    const callee = st.value.callee;
    if (callee.kind !== 'name') return undefined;
    const qualified = this.qualify(callee.parts, f);
    const first = st.value.args.find((a) => !a.name && !a.star)?.value;
    if (!first) return undefined;
    if (qualified === 'torch.onnx.export' || qualified === 'torch.onnx.dynamo_export') return first;
    if (qualified !== 'torch.save') return undefined;
    return stateDictOwner(first);
  }

  // ---- walking a path -----------------------------------------------------------------------------

  private walk(root: Root, segments: string[]): ModuleResolution | undefined {
    let value: Value = root.value;
    let site = root.site;
    const trail = [root.label];
    for (let k = 0; k < segments.length; k++) {
      const seg = segments[k]!;
      const step = this.child(value, seg);
      const prefix = segments.slice(0, k + 1).join('.');
      if ('stop' in step) {
        // A starting point that does not have the first segment at all is no resolution (but one that
        // sets it in a way Loupe cannot follow is: the stop says why).
        const rootSets = root.value.kind === 'library'
          || (root.value.kind === 'instance' && !/^\d+$/.test(seg) && this.mro(root.value.cls).some((c) => this.classSets(c, seg)));
        if (k === 0 && !rootSets) return undefined;
        const library = root.value.kind === 'library' ? root.value.qualified : undefined;
        const caveat = value.kind === 'library'
          ? `${segments.join('.')} is defined inside ${libraryOf(value.qualified)}: this line builds ${k === 0 ? 'the model' : segments.slice(0, k).join('.')} with ${value.qualified}(…)`
          : `${prefix}: ${step.stop}`;
        return {
          site, className: className(value), complete: false, caveat, trail,
          via: root.via, preference: root.preference, ...(library ? { library } : {}),
        };
      }
      if (step.unsure && k === segments.length - 1) {
        return { site, className: className(value), complete: false, caveat: `${prefix}: ${step.unsure}`, trail, via: root.via, preference: root.preference };
      }
      value = step.value;
      site = step.site;
      trail.push(`${prefix}: ${step.label}`);
    }
    return { site, className: className(value), complete: true, trail, via: root.via, preference: root.preference };
  }

  private valueAt(root: Root, segments: string[]): Value | undefined {
    let value: Value = root.value;
    for (const seg of segments) {
      const step = this.child(value, seg);
      if ('stop' in step) return undefined;
      value = step.value;
    }
    return value;
  }

  private child(value: Value, seg: string): Step {
    switch (value.kind) {
      case 'instance':
        return this.attribute(value, seg);
      case 'container':
      case 'list':
        return itemStep(value.items, seg, value.kind === 'container' ? value.className : 'list');
      case 'keyed':
      case 'dict': {
        const item = value.entries.get(seg);
        if (!item) return { stop: `${value.kind === 'keyed' ? value.className : 'the dict'} has no entry "${seg}" Loupe can see` };
        return { value: item.value, site: item.site, label: `"${seg}" → ${describeValue(item.value)}` };
      }
      case 'leaf':
        return { stop: `${value.className} is a torch.nn module: its sub-module "${seg}" is defined inside PyTorch` };
      case 'library':
        return { stop: `the module is defined inside ${libraryOf(value.qualified)} (${value.qualified}), not in the workspace` };
      case 'unknown':
        return { stop: value.reason };
      case 'none':
        return { stop: 'the module is None where Loupe looked' };
      default:
        return { stop: 'Loupe cannot tell which module this is' };
    }
  }

  /** `self.<name>` of an instance: its class's methods (`__init__` first), then its local base classes. */
  private attribute(inst: Instance, name: string): Step {
    const busy = this.evaluating.get(inst) ?? new Set<string>();
    if (busy.has(name)) return { stop: `self.${name} of ${inst.cls.cls.name} is built from itself` };
    this.evaluating.set(inst, busy);
    busy.add(name);
    try {
      return this.attributeOf(inst, name);
    } finally {
      busy.delete(name);
    }
  }

  private attributeOf(inst: Instance, name: string): Step {
    const chain = this.mro(inst.cls);
    if (/^\d+$/.test(name)) {
      const items = this.sequentialSuper(inst, chain);
      if (items) return itemStep(items, name, inst.cls.cls.name);
    }
    for (const c of chain) {
      const methods = [...c.cls.methods].sort((a, b) => Number(b.name === '__init__') - Number(a.name === '__init__'));
      for (const method of methods) {
        const env = this.methodEnv(c, method, inst);
        const found = this.assigned(method.body, method.body.length, (st) => setAttributeName(st)?.name === name, env, ['self', name]);
        if (found) {
          if ('stop' in found) return found;
          return { value: found.value, site: found.site, label: `self.${name} in ${c.cls.name} → ${describeValue(found.value)}` };
        }
      }
    }
    const libraryBase = this.libraryBases(inst.cls)[0];
    if (libraryBase) return { stop: `${inst.cls.cls.name} inherits from ${libraryBase}: "${name}" is defined inside ${libraryOf(libraryBase)}` };
    return { stop: `${inst.cls.cls.name} (${path.basename(inst.cls.file.file)}:${inst.cls.cls.at.line + 1}) sets no self.${name} that Loupe can read` };
  }

  /** Children of an instance of an nn.Sequential subclass: the arguments of its `super().__init__(…)`. */
  private sequentialSuper(inst: Instance, chain: ClassTarget[]): Item[] | undefined {
    if (!this.libraryBasesAll(chain).some((b) => b === 'torch.nn.Sequential')) return undefined;
    for (const c of chain) {
      const init = c.cls.methods.find((m) => m.name === '__init__');
      if (!init) continue;
      const env = this.methodEnv(c, init, inst);
      for (let i = 0; i < init.body.length; i++) {
        const st = init.body[i]!;
        if (st.kind !== 'expr' || st.value.kind !== 'call') continue;
        const callee = st.value.callee;
        const isSuper = (callee.kind === 'getattr' && callee.name === '__init__' && callee.object.kind === 'call'
          && callee.object.callee.kind === 'name' && callee.object.callee.parts.join('.') === 'super')
          || (callee.kind === 'name' && /(^|\.)Sequential\.__init__$/.test(callee.parts.join('.')));
        if (!isSuper) continue;
        const args = callee.kind === 'name' ? st.value.args.slice(1) : st.value.args;
        return this.positionalItems(args, { ...env, at: i });
      }
    }
    return undefined;
  }

  // ---- classes ------------------------------------------------------------------------------------

  /** The class and its bases defined in the workspace, most derived first. */
  private mro(target: ClassTarget, seen = new Set<PyClass>()): ClassTarget[] {
    const known = this.mros.get(target.cls);
    if (known) return known;
    if (seen.has(target.cls)) return [];
    seen.add(target.cls);
    const out = [target];
    for (const base of target.cls.bases) {
      const v = this.eval(base, this.fileEnv(target.file));
      if (v.kind === 'classref') out.push(...this.mro(v.target, seen));
    }
    this.mros.set(target.cls, out);
    return out;
  }

  private libraryBases(target: ClassTarget): string[] {
    return this.libraryBasesAll(this.mro(target));
  }

  private libraryBasesAll(chain: ClassTarget[]): string[] {
    const out: string[] = [];
    for (const c of chain) {
      for (const base of c.cls.bases) {
        const v = this.eval(base, this.fileEnv(c.file));
        if (v.kind === 'libclass') out.push(v.qualified);
      }
    }
    return out;
  }

  private isTorchModule(target: ClassTarget): boolean {
    return this.libraryBases(target).some((b) => b.startsWith('torch.nn.') || MODEL_LIBRARIES.some((l) => b.startsWith(`${l}.`)));
  }

  private fileEnv(file: PyFile): Env {
    return { file, body: file.module.topLevel, at: file.module.topLevel.length, params: new Map(), depth: 0 };
  }

  /** The environment of `method` of class `c` on `inst`: `__init__` of the instance's own class sees its call's arguments. */
  private methodEnv(c: ClassTarget, method: PyFunction, inst: Instance): Env {
    const args = method.name === '__init__' && c.cls === inst.cls.cls ? inst.args : [];
    return this.callEnv({ file: c.file, fn: method, owner: c }, args, inst.env, inst);
  }

  private callEnv(target: FunctionTarget, args: Arg[], caller: Env, self: Instance | undefined): Env {
    const params = target.fn.params.filter((p, i) => !(i === 0 && target.owner && (p.name === 'self' || p.name === 'cls')));
    const bound = new Map<string, Thunk>();
    const definingEnv = this.fileEnv(target.file);
    const positional = args.filter((a) => !a.name && !a.star);
    const starred = args.some((a) => a.star);
    params.forEach((p, i) => {
      if (p.star) return;
      const keyword = args.find((a) => a.name === p.name);
      const given = keyword ?? positional[i];
      if (given) bound.set(p.name, lazy(() => this.eval(given.value, caller)));
      else if (p.default) bound.set(p.name, lazy(() => this.eval(p.default!, definingEnv)));
      else bound.set(p.name, () => unknown(starred ? `parameter ${p.name} of ${target.fn.name}() comes from *args` : `parameter ${p.name} of ${target.fn.name}() has no value Loupe can see`));
    });
    return { file: target.file, body: target.fn.body, at: target.fn.body.length, params: bound, ...(self ? { self } : {}), depth: caller.depth + 1 };
  }

  // ---- assignments --------------------------------------------------------------------------------

  /**
   * The value of a name (or self attribute) assigned by the statements of `body` before `at` that
   * `matches`, with later appends/extends applied. Assignments in other branches than the last one
   * stay candidates; None is dropped; candidates that still disagree make the answer a stop.
   * Undefined when nothing assigns it.
   */
  private assigned(body: Stmt[], at: number, matches: (st: Stmt) => boolean, env: Env, target: string[]): { value: Value; site: Site } | { stop: string } | undefined {
    let candidates: number[] = [];
    for (let i = 0; i < Math.min(at, body.length); i++) {
      const st = body[i]!;
      if (!matches(st) || this.runs(st, undefined, { ...env, at: i }) === 'never') continue;
      // A later assignment that runs whenever an earlier one did replaces it.
      candidates = candidates.filter((c) => st.loops.length > body[c]!.loops.length || this.runs(st, body[c]!, { ...env, at: i }) !== 'always');
      candidates.push(i);
    }
    if (candidates.length === 0) return undefined;
    const values = candidates.map((i) => {
      const st = body[i]!;
      const stEnv = { ...env, at: i };
      const expr = assignedExpr(st)!;
      let value = env.depth > MAX_DEPTH ? unknown('the model is nested too deeply for Loupe to follow') : this.eval(expr, stEnv);
      value = this.mutated(value, body, i, at, target, env);
      const named = setAttributeName(st);
      const nameAt = named?.at ?? st.at;
      const site: Site = {
        file: env.file.file, line: expr.at.line, column: expr.at.column,
        nameLine: nameAt.line, nameColumn: nameAt.column, nameLength: named?.length ?? target[target.length - 1]!.length,
      };
      return { value, site, line: st.at.line };
    });
    const real = values.filter((v) => v.value.kind !== 'none');
    const chosen = real.length ? real : values;
    if (chosen.length === 1) return chosen[0]!;
    const modules = chosen.filter((v) => v.value.kind !== 'unknown');
    if (modules.length === 1) return modules[0]!;
    return { stop: `${target.join('.')} is assigned in ${chosen.length} places (lines ${chosen.map((v) => v.line + 1).join(', ')}), depending on conditions Loupe cannot evaluate` };
  }

  /**
   * Whether statement `st` runs whenever `outer` does (`outer` undefined: whenever its function runs):
   * its own `if` conditions, evaluated with what Loupe knows (arguments, constants), say 'always' or
   * 'never'; anything else (a try branch, a condition on a runtime value) is 'maybe'.
   */
  private runs(st: Stmt, outer: Stmt | undefined, env: Env): 'always' | 'never' | 'maybe' {
    const own = outer ? st.guards.filter((g) => !outer.guards.includes(g)) : st.guards;
    let state: 'always' | 'maybe' = 'always';
    for (const g of own) {
      const v = this.truth(g.test, env);
      if (v === !g.expect) return 'never';
      if (v === undefined) state = 'maybe';
    }
    const extra = outer ? st.branches.filter((b) => !outer.branches.includes(b)) : st.branches;
    if (extra.some((b) => b.startsWith('try'))) state = 'maybe';
    return state;
  }

  /** A condition's truth, when what it depends on is known; undefined otherwise. */
  private truth(e: Expr, env: Env): boolean | undefined {
    switch (e.kind) {
      case 'not': {
        const v = this.truth(e.value, env);
        return v === undefined ? undefined : !v;
      }
      case 'boolop': {
        const vs = e.values.map((x) => this.truth(x, env));
        if (e.op === 'and') return vs.includes(false) ? false : vs.every((v) => v === true) ? true : undefined;
        return vs.includes(true) ? true : vs.every((v) => v === false) ? false : undefined;
      }
      case 'compare': {
        const l = this.eval(e.left, env);
        const r = this.eval(e.right, env);
        if (e.op === 'is' || e.op === 'is not') {
          const none = l.kind === 'none' ? r : r.kind === 'none' ? l : undefined;
          if (!none || none.kind === 'unknown') return undefined;
          const same = none.kind === 'none';
          return e.op === 'is' ? same : !same;
        }
        const scalar = (v: Value): number | string | boolean | undefined => (v.kind === 'int' || v.kind === 'str' || v.kind === 'bool' ? v.value : undefined);
        const a = scalar(l);
        const b = scalar(r);
        if (a === undefined || b === undefined) return undefined;
        switch (e.op) {
          case '==': return a === b;
          case '!=': return a !== b;
          case '<': return a < b;
          case '>': return a > b;
          case '<=': return a <= b;
          case '>=': return a >= b;
          default: return undefined;
        }
      }
      default: {
        const v = this.eval(e, env);
        switch (v.kind) {
          case 'bool': return v.value;
          case 'int': return v.value !== 0;
          case 'str': return v.value.length > 0;
          case 'none': return false;
          case 'list': return v.items.some((it) => it.count.min > 0) ? true : v.items.every((it) => it.count.max === 0) ? false : undefined;
          case 'unknown': case 'builtin': case 'libfunction': return undefined;
          default: return true;
        }
      }
    }
  }

  /** `value` after `x.append(…)`, `x.extend(…)` and `x += […]` statements between `from` and `to`. */
  private mutated(value: Value, body: Stmt[], from: number, to: number, target: string[], env: Env): Value {
    if (value.kind !== 'list' && value.kind !== 'container') return value;
    let items = [...value.items];
    const origin = body[from]!;
    for (let j = from + 1; j < Math.min(to, body.length); j++) {
      const st = body[j]!;
      let added: Item[] | undefined;
      const stEnv = { ...env, at: j };
      if (this.runs(st, origin, stEnv) === 'never') continue;
      if (st.kind === 'expr' && st.value.kind === 'call' && st.value.callee.kind === 'name') {
        const parts = st.value.callee.parts;
        const method = parts[parts.length - 1];
        if (parts.length !== target.length + 1 || !target.every((p, i) => parts[i] === p)) continue;
        const arg = st.value.args[0];
        if (!arg) continue;
        if (method === 'append') added = [{ value: this.eval(arg.value, stEnv), site: siteOfExpr(env.file.file, arg.value), count: ONCE }];
        else if (method === 'extend') added = this.itemsOf(this.eval(arg.value, stEnv));
        else if (method === 'insert') return unknown(`${target.join('.')}.insert(…) on line ${st.at.line + 1} reorders the list`);
      } else if (st.kind === 'augadd' && isName(st.target, target)) {
        added = this.itemsOf(this.eval(st.value, stEnv));
      }
      if (!added) continue;
      const times = this.repeats(origin, st, stEnv);
      items = items.concat(added.map((it) => scaleItem(it, times.count, times.why)));
    }
    return value.kind === 'list' ? { kind: 'list', items } : { ...value, items };
  }

  /** How many times statement `inner` runs per run of `outer`: the loops and branches it adds. */
  private repeats(outer: Stmt, inner: Stmt, env: Env): { count: Count; why?: string } {
    let count: Count = { ...ONCE };
    let why: string | undefined;
    for (const loop of inner.loops.filter((l) => !outer.loops.some((o) => o.line === l.line))) {
      const n = loop.iterable ? this.countOf(loop.iterable, env) : undefined;
      if (n === undefined) {
        count = { min: 0, max: Infinity };
        why ??= `the loop on line ${loop.line + 1} runs a number of times Loupe cannot tell`;
      } else {
        count = { min: count.min * n, max: count.max * n };
      }
    }
    if (this.runs(inner, outer, env) === 'maybe') {
      count = { min: 0, max: count.max };
      why ??= `line ${inner.at.line + 1} runs under a condition Loupe cannot evaluate`;
    }
    return { count, ...(why ? { why } : {}) };
  }

  private countOf(expr: Expr, env: Env): number | undefined {
    if (expr.kind === 'call' && expr.callee.kind === 'name') {
      const name = expr.callee.parts.join('.');
      const ints = expr.args.map((a) => this.eval(a.value, env));
      if (name === 'range' && ints.every((v) => v.kind === 'int') && !expr.args.some((a) => a.name || a.star)) {
        const [a, b, s] = ints.length === 1 ? [0, (ints[0] as { value: number }).value, 1] : ints.map((v) => (v as { value: number }).value);
        const step = s ?? 1;
        if (step === 0 || a === undefined || b === undefined) return undefined;
        return Math.max(0, Math.ceil((b - a) / step));
      }
      if ((name === 'enumerate' || name === 'reversed' || name === 'list' || name === 'tuple') && expr.args[0]) return this.countOf(expr.args[0].value, env);
    }
    const v = this.eval(expr, env);
    if (v.kind === 'list') {
      let n = 0;
      for (const it of v.items) {
        if (it.count.min !== it.count.max) return undefined;
        n += it.count.min;
      }
      return n;
    }
    return undefined;
  }

  private itemsOf(v: Value): Item[] | undefined {
    return v.kind === 'list' || v.kind === 'container' ? v.items : undefined;
  }

  // ---- expressions --------------------------------------------------------------------------------

  private eval(expr: Expr, env: Env): Value {
    if (env.depth > MAX_DEPTH) return unknown('the model is nested too deeply for Loupe to follow');
    switch (expr.kind) {
      case 'num':
        return Number.isInteger(expr.value) ? { kind: 'int', value: expr.value } : unknown('a number');
      case 'str':
        return { kind: 'str', value: expr.value };
      case 'const':
        return expr.value === 'None' ? { kind: 'none' } : { kind: 'bool', value: expr.value === 'True' };
      case 'compare':
      case 'boolop':
      case 'not': {
        const v = this.truth(expr, env);
        return v === undefined ? unknown(`a condition on line ${expr.at.line + 1} Loupe cannot evaluate`) : { kind: 'bool', value: v };
      }
      case 'cond': {
        const v = this.truth(expr.test, env);
        if (v !== undefined) return this.eval(v ? expr.then : expr.orelse, env);
        return choice(this.eval(expr.then, env), this.eval(expr.orelse, env), expr.at.line);
      }
      case 'name':
        return this.name(expr.parts, env);
      case 'getattr': {
        const object = this.eval(expr.object, env);
        return this.member(object, expr.name);
      }
      case 'index': {
        const object = this.eval(expr.object, env);
        const index = this.eval(expr.index, env);
        if ((object.kind === 'list' || object.kind === 'container') && index.kind === 'int') {
          const step = itemStep(object.items, String(index.value < 0 ? NaN : index.value), 'list');
          return 'stop' in step ? unknown(step.stop) : step.value;
        }
        if ((object.kind === 'dict' || object.kind === 'keyed') && index.kind === 'str') return object.entries.get(index.value)?.value ?? unknown(`no entry "${index.value}"`);
        return unknown('an index Loupe does not evaluate');
      }
      case 'list': {
        const items = this.positionalItems(expr.items.map((e) => (e.kind === 'star' ? { star: 1 as const, value: e.value } : { value: e })), env);
        return { kind: 'list', items };
      }
      case 'comp': {
        let n: number | undefined = 1;
        for (const it of expr.iterables) {
          const m = this.countOf(it, env);
          n = n === undefined || m === undefined ? undefined : n * m;
        }
        const count: Count = n === undefined ? { min: 0, max: Infinity } : { min: expr.filtered ? 0 : n, max: n };
        const why = count.min === count.max ? undefined : `the comprehension on line ${expr.at.line + 1} has a length Loupe cannot tell`;
        return { kind: 'list', items: [{ value: this.eval(expr.element, env), site: siteOfExpr(env.file.file, expr.element), count, ...(why ? { why } : {}) }] };
      }
      case 'dict': {
        const entries = new Map<string, Item>();
        for (const { key, value } of expr.entries) {
          if (key.kind !== 'str') return unknown('a dict with keys Loupe does not evaluate');
          entries.set(key.value, {
            value: this.eval(value, env),
            site: { ...siteOfExpr(env.file.file, value), nameLine: key.at.line, nameColumn: key.at.column, nameLength: key.value.length + 2 },
            count: ONCE,
          });
        }
        return { kind: 'dict', entries };
      }
      case 'binop': {
        const left = this.eval(expr.left, env);
        const right = this.eval(expr.right, env);
        if (left.kind === 'int' && right.kind === 'int') {
          return { kind: 'int', value: expr.op === '+' ? left.value + right.value : expr.op === '-' ? left.value - right.value : left.value * right.value };
        }
        if (expr.op === '+' && left.kind === 'list' && right.kind === 'list') return { kind: 'list', items: [...left.items, ...right.items] };
        if (expr.op === '*' && (left.kind === 'list' || right.kind === 'list')) {
          const list = (left.kind === 'list' ? left : right) as { items: Item[] };
          const n = left.kind === 'int' ? left.value : right.kind === 'int' ? right.value : undefined;
          const times = n === undefined ? { min: 0, max: Infinity } : { min: n, max: n };
          return { kind: 'list', items: list.items.map((it) => scaleItem(it, times, `the repetition on line ${expr.at.line + 1} has a length Loupe cannot tell`)) };
        }
        return unknown('an arithmetic expression');
      }
      case 'call':
        return this.call(expr, env);
      default:
        return unknown(`an expression on line ${expr.at.line + 1} that Loupe does not follow`);
    }
  }

  private positionalItems(args: Arg[], env: Env): Item[] {
    const items: Item[] = [];
    for (const a of args) {
      if (a.name || a.star === 2) continue;
      const v = this.eval(a.value, env);
      if (a.star) {
        const inner = this.itemsOf(v);
        if (inner) items.push(...inner);
        else items.push({ value: v, site: siteOfExpr(env.file.file, a.value), count: { min: 0, max: Infinity }, opaque: true, why: `*${exprText(a.value)} on line ${a.value.at.line + 1} unpacks something Loupe cannot list` });
      } else {
        items.push({ value: v, site: siteOfExpr(env.file.file, a.value), count: ONCE });
      }
    }
    return items;
  }

  private name(parts: string[], env: Env): Value {
    const [first, ...rest] = parts as [string, ...string[]];
    let base: Value;
    if (first === 'self' && env.self) {
      base = env.self;
      if (rest.length) {
        const [attr, ...more] = rest as [string, ...string[]];
        // A method of the class (`self._make_layer`), else an attribute set in a method.
        const method = this.mro(env.self.cls).flatMap((c) => c.cls.methods.map((m) => ({ c, m }))).find(({ m }) => m.name === attr);
        if (method && more.length === 0) return { kind: 'function', target: { file: method.c.file, fn: method.m, owner: method.c }, self: env.self };
        const step = this.attribute(env.self, attr);
        base = 'stop' in step ? unknown(step.stop) : step.value;
        for (const p of more) base = this.member(base, p);
      }
      return base;
    }
    const local = this.lookup(first, env);
    if (local) {
      base = local;
      for (const p of rest) base = this.member(base, p);
      return base;
    }
    return this.global(parts, env.file);
  }

  /** A local, a parameter, or a top-level assignment of the file. */
  private lookup(name: string, env: Env): Value | undefined {
    const found = this.assigned(env.body, env.at, (st) => st.kind === 'assign' && st.targets.some((t) => isName(t, [name])), { ...env }, [name]);
    if (found) return 'stop' in found ? unknown(found.stop) : found.value;
    const param = env.params.get(name);
    if (param) return param();
    if (env.body !== env.file.module.topLevel) {
      const top = env.file.module.topLevel;
      const global = this.assigned(top, top.length, (st) => st.kind === 'assign' && st.targets.some((t) => isName(t, [name])), this.fileEnv(env.file), [name]);
      if (global) return 'stop' in global ? unknown(global.stop) : global.value;
    }
    return undefined;
  }

  /** Names defined by the file itself (classes, functions) or imported into it. */
  private global(parts: string[], file: PyFile, seen = new Set<string>()): Value {
    const [first, ...rest] = parts as [string, ...string[]];
    const key = `${file.file}:${first}`;
    if (seen.has(key)) return unknown(`${first} is imported in a circle`);
    seen.add(key);
    const cls = file.module.classes.find((c) => c.name === first);
    if (cls && rest.length === 0) return { kind: 'classref', target: { file, cls } };
    const fn = file.module.functions.find((f) => f.name === first);
    if (fn && rest.length === 0) return { kind: 'function', target: { file, fn } };
    const imp = file.module.imports.get(first);
    if (imp) return this.imported(imp, rest, file, seen);
    if (BUILTINS.has(first) && rest.length === 0) return { kind: 'builtin', name: first };
    // `nn` and `torch` are read as torch's even without an import Loupe saw.
    if (first === 'nn') return libraryValue(['torch.nn', ...rest].join('.'));
    if (first === 'torch' || first === 'torchvision') return libraryValue(parts.join('.'));
    return unknown(`${parts.join('.')} is not defined in ${path.basename(file.file)} or imported from the workspace`);
  }

  private imported(imp: PyImport, rest: string[], from: PyFile, seen: Set<string>): Value {
    const files = this.moduleFiles(imp.module, from);
    if (imp.name) {
      for (const f of files) {
        const v = this.global([imp.name, ...rest], f, seen);
        if (v.kind !== 'unknown') return v;
      }
      if (files.length === 0 && !isLibraryModule(imp.module)) {
        // Run from another working directory, or installed in development mode: a class of that name in the workspace.
        const classes = this.classesByName.get(imp.name) ?? [];
        if (classes.length === 1 && rest.length === 0) return { kind: 'classref', target: classes[0]! };
        if (classes.length > 1 && rest.length === 0) {
          return unknown(`${imp.name} is imported from ${imp.module}, which is not in the workspace, and ${classes.length} files define a class of that name`);
        }
      }
      const qualified = [imp.module.replace(/^\.+/, ''), imp.name, ...rest].join('.');
      return files.length ? unknown(`${imp.name} is not defined in ${imp.module}`) : libraryValue(qualified);
    }
    if (files.length && rest.length) {
      for (const f of files) {
        const v = this.global(rest, f, seen);
        if (v.kind !== 'unknown') return v;
      }
    }
    return libraryValue([imp.module, ...rest].join('.'));
  }

  private moduleFiles(module: string, from: PyFile): PyFile[] {
    const dots = /^\.*/.exec(module)![0].length;
    if (dots > 0) {
      let dir = path.dirname(from.file);
      for (let i = 1; i < dots; i++) dir = path.dirname(dir);
      const rel = module.slice(dots).split('.').filter(Boolean);
      const base = path.join(dir, ...rel);
      return [this.byPath.get(`${base}.py`), this.byPath.get(path.join(base, '__init__.py'))].filter((f): f is PyFile => !!f);
    }
    const found = this.filesByModule.get(module) ?? [];
    if (found.length <= 1) return found;
    // Several files end with this module path: the one nearest the importing file.
    return [...found].sort((a, b) => folderDistance(from.file, a.file) - folderDistance(from.file, b.file)).slice(0, 1);
  }

  private qualify(parts: string[], file: PyFile): string {
    const imp = file.module.imports.get(parts[0]!);
    if (imp) return [imp.module.replace(/^\.+/, ''), ...(imp.name ? [imp.name] : []), ...parts.slice(1)].join('.');
    if (parts[0] === 'nn') return ['torch.nn', ...parts.slice(1)].join('.');
    return parts.join('.');
  }

  private member(object: Value, name: string): Value {
    switch (object.kind) {
      case 'instance': {
        const step = this.attribute(object, name);
        return 'stop' in step ? unknown(step.stop) : step.value;
      }
      case 'keyed':
      case 'dict':
        return object.entries.get(name)?.value ?? unknown(`no entry "${name}"`);
      case 'libclass':
      case 'libfunction':
        return libraryValue(`${object.qualified}.${name}`);
      case 'classref': {
        const method = object.target.cls.methods.find((m) => m.name === name);
        return method ? { kind: 'function', target: { file: object.target.file, fn: method, owner: object.target } } : unknown(`${object.target.cls.name}.${name}`);
      }
      case 'library':
        return { ...object, qualified: object.qualified };
      default:
        return object.kind === 'unknown' ? object : unknown(`.${name} of a value Loupe does not model`);
    }
  }

  private call(expr: Extract<Expr, { kind: 'call' }>, env: Env): Value {
    const site = siteOfExpr(env.file.file, expr);
    const { callee, args } = expr;
    // `model.to(device)`, `Net().eval()`: the same module.
    const method = callee.kind === 'getattr' ? callee.name : callee.kind === 'name' && callee.parts.length > 1 ? callee.parts[callee.parts.length - 1]! : undefined;
    if (method && SAME_MODULE_METHODS.has(method)) {
      const object = callee.kind === 'getattr' ? this.eval(callee.object, env) : this.name((callee as { parts: string[] }).parts.slice(0, -1), env);
      if (isModule(object)) return object;
    }
    const fn = this.eval(callee, env);
    switch (fn.kind) {
      case 'classref':
        return { kind: 'instance', cls: fn.target, args, env, site };
      case 'function': {
        const callEnv = this.callEnv(fn.target, args, env, fn.self);
        return this.returned(fn.target, callEnv);
      }
      case 'libclass':
        return this.libraryCall(fn.qualified, args, env, site, true);
      case 'libfunction':
        return this.libraryCall(fn.qualified, args, env, site, false);
      case 'builtin': {
        const arg0 = args[0];
        if ((fn.name === 'list' || fn.name === 'tuple') && arg0) return this.eval(arg0.value, env);
        if (fn.name === 'OrderedDict' || fn.name === 'dict') return arg0 ? this.pairs(this.eval(arg0.value, env), arg0.value) : { kind: 'dict', entries: new Map() };
        if ((fn.name === 'partial' || fn.name === 'deepcopy') && arg0) return this.eval(arg0.value, env);
        return unknown(`${fn.name}(…) is not a module`);
      }
      case 'unknown':
        return fn;
      default:
        return unknown(`a call on line ${expr.at.line + 1} that Loupe does not follow`);
    }
  }

  /** What a function returns: its return statements; one module, or those that agree. */
  private returned(target: FunctionTarget, env: Env): Value {
    const body = target.fn.body;
    const values: Value[] = [];
    for (let i = 0; i < body.length; i++) {
      const st = body[i]!;
      if (st.kind !== 'return') continue;
      const state = this.runs(st, undefined, { ...env, at: i });
      if (state === 'never') continue;
      values.push(this.eval(st.value, { ...env, at: i }));
      if (state === 'always' && st.loops.length === 0) break; // later returns never run
    }
    const real = values.filter((v) => v.kind !== 'none' && v.kind !== 'unknown');
    if (real.length === 1 || (real.length > 1 && real.every((v) => sameModule(v, real[0]!)))) return real[0]!;
    if (real.length > 1) return unknown(`${target.fn.name}() returns different modules on different lines, depending on its arguments`);
    return values.find((v) => v.kind === 'unknown') ?? unknown(`${target.fn.name}() returns no module Loupe can see`);
  }

  private libraryCall(qualified: string, args: Arg[], env: Env, site: Site, isClass: boolean): Value {
    const arg0 = args.find((a) => !a.name && !a.star);
    if (WRAPPERS.has(qualified) && arg0) return this.eval(arg0.value, env);
    if (qualified === 'collections.OrderedDict') return arg0 ? this.pairs(this.eval(arg0.value, env), arg0.value) : { kind: 'dict', entries: new Map() };
    if (qualified === 'functools.partial' && arg0) return this.eval(arg0.value, env);
    if (qualified.startsWith('torch.nn.') && isClass) {
      const name = qualified.slice(qualified.lastIndexOf('.') + 1);
      if (name === 'Sequential') {
        if (args.length === 1 && arg0) {
          const only = this.eval(arg0.value, env);
          if (only.kind === 'dict') return { kind: 'keyed', className: name, entries: only.entries, site };
        }
        return { kind: 'container', className: name, items: this.positionalItems(args, env), site };
      }
      if (name === 'ModuleList') {
        if (!arg0) return { kind: 'container', className: name, items: [], site };
        const list = this.eval(arg0.value, env);
        const items = this.itemsOf(list);
        return items ? { kind: 'container', className: name, items, site } : unknown(`the list given to nn.ModuleList on line ${site.line + 1} is not one Loupe can read`);
      }
      if (name === 'ModuleDict') {
        if (!arg0) return { kind: 'keyed', className: name, entries: new Map(), site };
        const dict = this.eval(arg0.value, env);
        return dict.kind === 'dict' ? { kind: 'keyed', className: name, entries: dict.entries, site } : unknown(`the dict given to nn.ModuleDict on line ${site.line + 1} is not one Loupe can read`);
      }
      return { kind: 'leaf', className: name, site };
    }
    if (MODEL_LIBRARIES.some((l) => qualified === l || qualified.startsWith(`${l}.`))) return { kind: 'library', qualified, site };
    return unknown(`${qualified}(…) comes from outside the workspace`);
  }

  /** `OrderedDict([("conv", m), …])` and `dict(…)`: a list of (name, module) pairs. */
  private pairs(list: Value, source: Expr): Value {
    if (list.kind === 'dict') return list;
    if (list.kind !== 'list' || source.kind !== 'list') return unknown('an OrderedDict Loupe cannot read');
    const entries = new Map<string, Item>();
    for (const pair of source.items) {
      if (pair.kind !== 'list' || pair.items.length !== 2 || pair.items[0]!.kind !== 'str') return unknown('an OrderedDict whose keys are not plain strings');
      const key = pair.items[0] as { value: string; at: { line: number; column: number } };
      const item = list.items[source.items.indexOf(pair)];
      const value = item?.value.kind === 'list' ? item.value.items[1]?.value : undefined;
      if (!value) return unknown('an OrderedDict Loupe cannot read');
      entries.set(key.value, {
        value,
        site: { ...siteOfExpr(item!.site.file, pair.items[1]!), nameLine: key.at.line, nameColumn: key.at.column, nameLength: key.value.length + 2 },
        count: ONCE,
      });
    }
    return { kind: 'dict', entries };
  }
}

interface Root {
  value: Value & { site: Site };
  site: Site;
  via: string[];
  preference: number;
  label: string;
}

const BUILTINS = new Set(['list', 'tuple', 'dict', 'range', 'enumerate', 'len', 'reversed', 'super', 'OrderedDict', 'partial', 'deepcopy']);

/** Element `seg` of a list; a stop when elements of uncertain count before it leave more than one candidate. */
function itemStep(items: Item[], seg: string, owner: string): Step {
  if (!/^\d+$/.test(seg)) return { stop: `${owner} children are numbered; "${seg}" is not a number` };
  const k = Number(seg);
  // Each element may start anywhere from the sum of the minimum counts before it to the sum of the maximums.
  let minStart = 0;
  let maxStart = 0;
  const possible: Item[] = [];
  const whys: string[] = [];
  for (const it of items) {
    if (it.count.max > 0 && k >= minStart && k <= maxStart + it.count.max - 1) possible.push(it);
    if (it.count.min !== it.count.max && it.why) whys.push(it.why);
    minStart += it.count.min;
    maxStart += it.count.max;
  }
  if (possible.length === 0) {
    const n = minStart === maxStart ? `${minStart}` : `at most ${maxStart}`;
    return { stop: `${owner} has ${n} child${maxStart === 1 ? '' : 'ren'} Loupe can see; [${k}] is not among them` };
  }
  const opaque = possible.find((p) => p.opaque);
  if (opaque) return { stop: `[${k}] falls among elements Loupe cannot list: ${opaque.why}` };
  const first = possible[0]!;
  const label = `[${k}] → ${describeValue(first.value)}`;
  if (possible.length > 1 && !possible.every((p) => sameSite(p.site, first.site))) {
    const kinds = [...new Set(possible.map((p) => `${className(p.value)} (line ${p.site.line + 1})`))];
    const stop = `[${k}] may be ${kinds.join(' or ')}: ${whys[0] ?? 'the number of elements before it is not known'}`;
    if (!possible.every((p) => sameModule(p.value, first.value))) return { stop };
    return { value: first.value, site: first.site, label, unsure: stop };
  }
  return { value: first.value, site: first.site, label };
}

/**
 * The value of `a if <unknown> else b`: two lists where one is empty are the other's elements, each
 * 0 or 1 times; the same module either way is that module; anything else is unknown.
 */
function choice(a: Value, b: Value, line: number): Value {
  const why = `the conditional expression on line ${line + 1} depends on a condition Loupe cannot evaluate`;
  if (a.kind === 'list' && b.kind === 'list') {
    const [empty, full] = a.items.length === 0 ? [a, b] : b.items.length === 0 ? [b, a] : [undefined, undefined];
    if (empty && full) return { kind: 'list', items: full.items.map((it) => ({ ...it, count: { min: 0, max: it.count.max }, why: it.why ?? why })) };
  }
  if (sameModule(a, b)) return a;
  return unknown(why);
}

function scaleItem(it: Item, times: Count, why?: string): Item {
  const count = { min: it.count.min * times.min, max: it.count.max * times.max };
  return { ...it, count, ...(count.min !== count.max ? { why: it.why ?? why ?? 'a loop Loupe cannot count' } : {}) };
}

function sameSite(a: Site, b: Site): boolean {
  return a.file === b.file && a.line === b.line && a.column === b.column;
}

/** Same class: what a path that goes on through either would reach is the same code. */
function sameModule(a: Value, b: Value): boolean {
  if (a.kind === 'instance' && b.kind === 'instance') return a.cls.cls === b.cls.cls;
  if (a.kind === 'leaf' && b.kind === 'leaf') return a.className === b.className && sameSite(a.site, b.site);
  if ('site' in a && 'site' in b) return a.kind === b.kind && sameSite(a.site as Site, b.site as Site);
  return false;
}

function isModule(v: Value): v is Value & { site: Site } {
  return v.kind === 'instance' || v.kind === 'leaf' || v.kind === 'container' || v.kind === 'keyed' || v.kind === 'library';
}

function className(v: Value): string {
  switch (v.kind) {
    case 'instance': return v.cls.cls.name;
    case 'leaf': case 'container': case 'keyed': return v.className;
    case 'library': return v.qualified.slice(v.qualified.lastIndexOf('.') + 1);
    default: return '?';
  }
}

function describeValue(v: Value): string {
  switch (v.kind) {
    case 'instance': return `${v.cls.cls.name} (${path.basename(v.cls.file.file)}:${v.cls.cls.at.line + 1})`;
    case 'leaf': return `nn.${v.className}`;
    case 'container': return `nn.${v.className} of ${v.items.length} element${v.items.length === 1 ? '' : 's'}`;
    case 'keyed': return `nn.${v.className}`;
    case 'library': return `${v.qualified}(…)`;
    case 'unknown': return `? (${v.reason})`;
    default: return v.kind;
  }
}

function libraryValue(qualified: string): Value {
  const last = qualified.slice(qualified.lastIndexOf('.') + 1);
  if (qualified === 'collections.OrderedDict' || qualified === 'functools.partial' || qualified === 'copy.deepcopy') return { kind: 'libfunction', qualified };
  return /^[A-Z]/.test(last) ? { kind: 'libclass', qualified } : { kind: 'libfunction', qualified };
}

function libraryOf(qualified: string): string {
  return MODEL_LIBRARIES.find((l) => qualified === l || qualified.startsWith(`${l}.`)) ?? qualified.split('.')[0]!;
}

function isLibraryModule(module: string): boolean {
  return module === 'torch' || module.startsWith('torch.') || MODEL_LIBRARIES.some((l) => module === l || module.startsWith(`${l}.`));
}

/** A call that builds a whole model (not a layer class such as torchvision.ops.Conv2dNormActivation). */
function isModelBuilder(qualified: string): boolean {
  const last = qualified.slice(qualified.lastIndexOf('.') + 1);
  return !/^[A-Z]/.test(last) || /\.models?\./.test(qualified);
}

/** `self.x = …`, `self.add_module("x", …)`, `self.register_module("x", …)`, `setattr(self, "x", …)`: the attribute and where its name is. */
function setAttributeName(st: Stmt): { name: string; at: { line: number; column: number }; length: number } | undefined {
  if (st.kind === 'assign') {
    for (const t of st.targets) {
      if (t.kind === 'name' && t.parts.length === 2 && t.parts[0] === 'self') {
        return { name: t.parts[1]!, at: { line: t.at.line, column: t.at.column + 'self.'.length }, length: t.parts[1]!.length };
      }
    }
    return undefined;
  }
  if (st.kind !== 'expr' || st.value.kind !== 'call' || st.value.callee.kind !== 'name') return undefined;
  const callee = st.value.callee.parts.join('.');
  const args = st.value.args;
  const key = callee === 'setattr' && args[0]?.value.kind === 'name' && args[0].value.parts.join('.') === 'self' ? args[1]
    : callee === 'self.add_module' || callee === 'self.register_module' ? args[0] : undefined;
  if (key?.value.kind !== 'str') return undefined;
  return { name: key.value.value, at: key.value.at, length: key.value.value.length + 2 };
}

/** The value expression a matched statement assigns. */
function assignedExpr(st: Stmt): Expr | undefined {
  if (st.kind === 'assign') return st.value;
  if (st.kind === 'expr' && st.value.kind === 'call') {
    const callee = st.value.callee.kind === 'name' ? st.value.callee.parts.join('.') : '';
    return (callee === 'setattr' ? st.value.args[2] : st.value.args[1])?.value;
  }
  return undefined;
}

function isName(e: Expr, parts: string[]): boolean {
  return e.kind === 'name' && e.parts.length === parts.length && e.parts.every((p, i) => p === parts[i]);
}

/** `m.state_dict()`, `m.module.state_dict()`, `{"model": m.state_dict(), …}`, `m` → m. */
export function stateDictOwner(e: Expr): Expr | undefined {
  if (e.kind === 'dict') {
    for (const { value } of e.entries) {
      const owner = stateDictOwner(value);
      if (owner && value.kind === 'call') return owner;
    }
    return undefined;
  }
  if (e.kind === 'call' && e.callee.kind === 'name' && e.callee.parts[e.callee.parts.length - 1] === 'state_dict') {
    const parts = e.callee.parts.slice(0, -1);
    if (parts[parts.length - 1] === 'module' && parts.length > 1) parts.pop();
    return { kind: 'name', parts, at: e.at };
  }
  return e.kind === 'name' ? e : undefined;
}

function calleeLast(callee: Expr): string | undefined {
  if (callee.kind === 'name') return callee.parts[callee.parts.length - 1];
  if (callee.kind === 'getattr') return callee.name;
  return undefined;
}

/** Calls the statement makes, at any depth of its expressions; `visitArg` sees each call's arguments and callee. */
function forEachCall(st: Stmt, visit: (callee: Expr) => void, visitArg?: (arg: Expr, callee: Expr) => void): void {
  for (const e of stmtExprs(st)) {
    forEachExpr(e, (x) => {
      if (x.kind !== 'call') return;
      visit(x.callee);
      if (visitArg) x.args.forEach((a) => visitArg(a.value, x.callee));
    });
  }
}

/**
 * Capitalised names given as arguments to a class in the statement (`ResNet(BasicBlock, …)` → BasicBlock):
 * building blocks. A class given to a function (`seeded(ResNetMini, …)`) may well be the model.
 */
function forEachArgumentName(st: Stmt, visit: (name: string) => void): void {
  forEachCall(st, () => undefined, (arg, callee) => {
    if (arg.kind !== 'name' || !/^[A-Z]/.test(calleeLast(callee) ?? '')) return;
    const last = arg.parts[arg.parts.length - 1]!;
    if (/^[A-Z]/.test(last)) visit(last);
  });
}

function siteOf(file: string, at: { line: number; column: number }, nameLength: number): Site {
  return { file, line: at.line, column: at.column, nameLine: at.line, nameColumn: at.column, nameLength };
}

function siteOfExpr(file: string, e: Expr): Site {
  const callee = e.kind === 'call' ? e.callee : e;
  const length = callee.kind === 'name' ? callee.parts.join('.').length : 1;
  return siteOf(file, e.at, length);
}

function exprText(e: Expr): string {
  return e.kind === 'name' ? e.parts.join('.') : e.kind;
}

/** Dotted module names a file answers to: `a/b/c.py` → `c`, `b.c`, `a.b.c`; `a/b/__init__.py` → `b`, `a.b`. */
function moduleNames(file: string): string[] {
  const parts = file.split(/[\\/]/).filter(Boolean);
  const last = parts.pop();
  if (!last) return [];
  const stem = last.replace(/\.pyw?$/, '');
  const names = stem === '__init__' ? [] : [stem];
  const chain = stem === '__init__' ? [] : [stem];
  for (let i = parts.length - 1; i >= 0 && names.length < 6; i--) {
    chain.unshift(parts[i]!);
    if (!/^[A-Za-z_]\w*$/.test(parts[i]!)) break;
    names.push(chain.join('.'));
  }
  return names;
}

function folderDistance(a: string, b: string): number {
  const rel = path.relative(path.dirname(a), path.dirname(b));
  return rel === '' ? 0 : rel.split(path.sep).length;
}

function lazy(f: Thunk): Thunk {
  let done = false;
  let v: Value;
  let running = false;
  return () => {
    if (done) return v;
    if (running) return unknown('a value that depends on itself');
    running = true;
    v = f();
    running = false;
    done = true;
    return v;
  };
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** One resolution per site: the most likely starting point's, with the files of every starting point that led there. */
function dedupe(list: ModuleResolution[]): ModuleResolution[] {
  const bySite = new Map<string, ModuleResolution>();
  for (const r of list) {
    const key = `${r.site.file}:${r.site.line}:${r.site.column}:${r.complete}`;
    const seen = bySite.get(key);
    if (!seen) bySite.set(key, r);
    else {
      const best = r.preference > seen.preference ? r : seen;
      bySite.set(key, { ...best, via: [...new Set([...seen.via, ...r.via])] });
    }
  }
  const out = [...bySite.values()];
  // A class used as a block is no starting point when a model has the path (even one Loupe cannot follow to its end).
  if (out.some((r) => r.preference >= 2 && r.library === undefined)) return out.filter((r) => r.preference >= 2 || r.library !== undefined);
  return out;
}

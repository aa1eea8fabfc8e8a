/**
 * The shape of a Python file as the PyTorch module resolver needs it: imports, classes with their
 * methods, module-level functions and statements, each statement with the loops and branches around
 * it, and the expressions that build modules. Plain data (no tokens), so a scan is cheap to keep.
 */

/** 0-based line and column of a token. */
export interface Pos {
  line: number;
  column: number;
}

export type Expr =
  /** `a`, `a.b.c` (a dotted chain of names). */
  | { kind: 'name'; parts: string[]; at: Pos }
  /** `x.attr` where x is not a plain name (e.g. a call). */
  | { kind: 'getattr'; object: Expr; name: string; at: Pos }
  /** `span`: source offsets [start, end) of the whole call, for quoting it. */
  | { kind: 'call'; callee: Expr; args: Arg[]; at: Pos; span: [number, number] }
  /** `x[i]`. */
  | { kind: 'index'; object: Expr; index: Expr; at: Pos }
  /** `[a, b]` or `(a, b)`; items may be `star`. */
  | { kind: 'list'; items: Expr[]; at: Pos }
  | { kind: 'star'; value: Expr; at: Pos }
  /** `[element for ... in iterables[0] for ... in iterables[1]]` (also generator expressions). */
  | { kind: 'comp'; element: Expr; iterables: Expr[]; filtered: boolean; at: Pos }
  | { kind: 'dict'; entries: Array<{ key: Expr; value: Expr }>; at: Pos }
  | { kind: 'num'; value: number; at: Pos }
  | { kind: 'str'; value: string; at: Pos }
  | { kind: 'const'; value: 'None' | 'True' | 'False'; at: Pos }
  | { kind: 'binop'; op: '+' | '*' | '-'; left: Expr; right: Expr; at: Pos }
  /** `then if test else orelse`. */
  | { kind: 'cond'; test: Expr; then: Expr; orelse: Expr; at: Pos }
  /** One comparison (`a == b`, `x is None`, `k in d`); chains are `other`. */
  | { kind: 'compare'; op: CompareOp; left: Expr; right: Expr; at: Pos }
  | { kind: 'boolop'; op: 'and' | 'or'; values: Expr[]; at: Pos }
  | { kind: 'not'; value: Expr; at: Pos }
  /** Anything the resolver does not model (conditional expressions, lambdas, comparisons, …). */
  | { kind: 'other'; at: Pos };

export type CompareOp = '==' | '!=' | '<' | '>' | '<=' | '>=' | 'is' | 'is not' | 'in' | 'not in';

export interface Arg {
  /** Keyword name (`name=value`). */
  name?: string;
  /** `*args` (one star) or `**kwargs` (two). */
  star?: 1 | 2;
  value: Expr;
}

/** A `for`/`while` loop around a statement; `iterable` is what a `for` iterates (undefined for `while`). */
export interface Loop {
  iterable?: Expr;
  /** Line of the loop header, to tell loops apart. */
  line: number;
}

/** A condition a statement runs under: `test` must evaluate to `expect`. */
export interface Guard {
  test: Expr;
  expect: boolean;
}

export type Stmt = StmtBody & {
  /** Enclosing loops, outermost first. */
  loops: Loop[];
  /**
   * Enclosing branches, outermost first: `if<line>:<branch number>` or `try<line>:<branch number>`.
   * Two statements in different branches of the same `if` never both run.
   */
  branches: string[];
  /**
   * The conditions of the enclosing `if`/`elif`/`else` branches (an `elif` or `else` also needs the
   * earlier tests false). Shared objects: statements under the same `if` hold the same Guard.
   */
  guards: Guard[];
  at: Pos;
};

type StmtBody =
  /** `a = b = value`, `self.x: T = value`; targets are `name` expressions (tuple targets are left out). */
  | { kind: 'assign'; targets: Expr[]; value: Expr }
  /** `a += value`. */
  | { kind: 'augadd'; target: Expr; value: Expr }
  | { kind: 'return'; value: Expr }
  /** An expression statement, e.g. `layers.append(x)` or `self.add_module("x", m)`. */
  | { kind: 'expr'; value: Expr };

export interface Param {
  name: string;
  default?: Expr;
  star?: 1 | 2;
}

export interface PyFunction {
  name: string;
  params: Param[];
  /** Position of the function's name in its `def` line. */
  at: Pos;
  body: Stmt[];
}

export interface PyClass {
  name: string;
  at: Pos;
  bases: Expr[];
  methods: PyFunction[];
}

export interface PyImport {
  /** Absolute or relative (leading dots) module: `torchvision.models`, `.blocks`. */
  module: string;
  /** The imported name for `from module import name`; undefined for `import module [as alias]`. */
  name?: string;
}

export interface PyModule {
  /** Local name → what it refers to. `import a.b` binds `a` to module `a`. */
  imports: Map<string, PyImport>;
  classes: PyClass[];
  functions: PyFunction[];
  /** Statements outside classes and functions (including those under `if __name__ == "__main__":`). */
  topLevel: Stmt[];
  /** True when the file guards its script part with `if __name__ == "__main__":`. */
  mainGuard: boolean;
}

/** Calls `visit` on `e` and every expression inside it, outermost first. */
export function forEachExpr(e: Expr, visit: (e: Expr) => void): void {
  visit(e);
  switch (e.kind) {
    case 'call': forEachExpr(e.callee, visit); e.args.forEach((a) => forEachExpr(a.value, visit)); return;
    case 'getattr': forEachExpr(e.object, visit); return;
    case 'index': forEachExpr(e.object, visit); forEachExpr(e.index, visit); return;
    case 'list': e.items.forEach((x) => forEachExpr(x, visit)); return;
    case 'star': forEachExpr(e.value, visit); return;
    case 'comp': forEachExpr(e.element, visit); e.iterables.forEach((x) => forEachExpr(x, visit)); return;
    case 'dict': e.entries.forEach((x) => { forEachExpr(x.key, visit); forEachExpr(x.value, visit); }); return;
    case 'binop': case 'compare': forEachExpr(e.left, visit); forEachExpr(e.right, visit); return;
    case 'cond': forEachExpr(e.test, visit); forEachExpr(e.then, visit); forEachExpr(e.orelse, visit); return;
    case 'boolop': e.values.forEach((x) => forEachExpr(x, visit)); return;
    case 'not': forEachExpr(e.value, visit); return;
    default:
  }
}

/** The expressions a statement holds (its targets left out). */
export function stmtExprs(st: Stmt): Expr[] {
  return [st.value];
}

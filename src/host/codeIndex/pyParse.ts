/**
 * Reads a tokenized Python file into the structure of pyAst.ts: logical lines (brackets and `\`
 * continue a line), blocks by indentation, then imports, classes, functions and statements with
 * their loops and branches. Never throws: what it cannot read becomes `other` expressions or is
 * left out, and the resolver says it could not follow it.
 */
import type { Arg, CompareOp, Expr, Guard, Loop, Param, Pos, PyClass, PyFunction, PyImport, PyModule, Stmt } from './pyAst';
import { matchingClose, splitTopLevel, type LineMap, type Token } from './tokens';

interface Range {
  indent: number;
  s: number;
  e: number;
}

interface Node {
  line: Range;
  children: Node[];
}

interface Scope {
  loops: Loop[];
  branches: string[];
  guards: Guard[];
}

const OPEN = new Set(['(', '[', '{']);
const CLOSE = new Set([')', ']', '}']);
/** Words after which an expression is not one the resolver models. */
const NON_EXPR_WORDS = new Set(['lambda', 'not', 'await', 'yield', 'del', 'pass', 'break', 'continue', 'raise', 'assert', 'global', 'nonlocal']);
const OPERAND_END = (t: Token | undefined): boolean =>
  !!t && (t.kind === 'id' || t.kind === 'num' || t.kind === 'str' || (t.kind === 'punct' && CLOSE.has(t.text)));
/** Operators the resolver does not model: an expression holding one at its top level is `other`. */
const UNMODELLED = new Set(['lambda', ':=', '|', '&', '^', '<<', '>>', '**', '~']);
const COMPARISONS = new Set(['==', '!=', '<', '>', '<=', '>=']);

export function parsePython(text: string, tokens: Token[], lines: LineMap): PyModule {
  return new Parser(text, tokens, lines).module();
}

class Parser {
  private readonly out: PyModule = { imports: new Map(), classes: [], functions: [], topLevel: [], mainGuard: false };

  constructor(private readonly text: string, private readonly tokens: Token[], private readonly lines: LineMap) {}

  module(): PyModule {
    const tree = this.tree(this.logicalLines());
    this.walk(tree, 'module', { loops: [], branches: [], guards: [] }, this.out.topLevel);
    return this.out;
  }

  // ---- lines and blocks ---------------------------------------------------------------------------

  private pos(i: number): Pos {
    return this.lines.position(this.tokens[i]!.start);
  }

  private logicalLines(): Range[] {
    const { tokens, text } = this;
    const out: Range[] = [];
    let depth = 0;
    let start = 0;
    let prevEndLine = -1;
    let prevEnd = 0;
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      const line = this.lines.position(t.start).line;
      if (i > start && depth === 0 && line !== prevEndLine && !/\\\r?\n\s*$/.test(text.slice(prevEnd, t.start))) {
        out.push(...this.splitSemicolons(start, i));
        start = i;
      }
      if (t.kind === 'punct' && OPEN.has(t.text)) depth++;
      else if (t.kind === 'punct' && CLOSE.has(t.text)) depth = Math.max(0, depth - 1);
      prevEnd = t.start + t.text.length;
      prevEndLine = this.lines.position(Math.max(t.start, prevEnd - 1)).line;
    }
    if (start < tokens.length) out.push(...this.splitSemicolons(start, tokens.length));
    return out;
  }

  private splitSemicolons(s: number, e: number): Range[] {
    const indent = this.pos(s).column;
    const parts: Range[] = [];
    let depth = 0;
    let from = s;
    for (let i = s; i < e; i++) {
      const t = this.tokens[i]!;
      if (t.kind !== 'punct') continue;
      if (OPEN.has(t.text)) depth++;
      else if (CLOSE.has(t.text)) depth--;
      else if (t.text === ';' && depth === 0) {
        if (i > from) parts.push({ indent, s: from, e: i });
        from = i + 1;
      }
    }
    if (e > from) parts.push({ indent, s: from, e });
    return parts;
  }

  private tree(lines: Range[]): Node[] {
    const root: Node = { line: { indent: -1, s: 0, e: 0 }, children: [] };
    const stack: Node[] = [root];
    for (const line of lines) {
      while (stack.length > 1 && stack[stack.length - 1]!.line.indent >= line.indent) stack.pop();
      const node: Node = { line, children: [] };
      stack[stack.length - 1]!.children.push(node);
      stack.push(node);
    }
    return root.children;
  }

  /** The first `:` at bracket depth 0 in a compound statement's header. */
  private headerColon(r: Range): number {
    let depth = 0;
    for (let i = r.s; i < r.e; i++) {
      const t = this.tokens[i]!;
      if (t.kind !== 'punct') continue;
      if (OPEN.has(t.text)) depth++;
      else if (CLOSE.has(t.text)) depth--;
      else if (t.text === ':' && depth === 0) return i;
    }
    return -1;
  }

  /** The node's children, with a statement written after the header's colon (`for x in y: f(x)`) first. */
  private body(node: Node): Node[] {
    const colon = this.headerColon(node.line);
    if (colon < 0 || colon + 1 >= node.line.e) return node.children;
    return [{ line: { indent: node.line.indent + 1, s: colon + 1, e: node.line.e }, children: [] }, ...node.children];
  }

  // ---- blocks -------------------------------------------------------------------------------------

  private walk(nodes: Node[], kind: 'module' | 'class' | 'function', scope: Scope, sink: Stmt[], methods?: PyFunction[]): void {
    const { tokens } = this;
    // The if/elif/else (or try/except) chain being walked: its tests so far, for the guards of later branches.
    let group: { id: string; n: number; tests: Expr[] } | undefined;
    for (const node of nodes) {
      const { s, e } = node.line;
      let k = s;
      if (tokens[k]!.text === 'async' && tokens[k]!.kind === 'id') k++;
      const word = tokens[k]!.kind === 'id' ? tokens[k]!.text : '';
      const branch = (n: number, test?: Expr): Scope => ({
        loops: scope.loops,
        branches: [...scope.branches, `${group!.id}:${n}`],
        guards: [...scope.guards, ...group!.tests.slice(0, n).map((t) => ({ test: t, expect: false })), ...(test ? [{ test, expect: true }] : [])],
      });
      const header = (): Expr => { const colon = this.headerColon(node.line); return this.expr(k + 1, colon < 0 ? e : colon); };
      switch (word) {
        case 'class': {
          group = undefined;
          if (kind === 'module') {
            const cls = this.classHeader(k, e);
            if (cls) {
              this.walk(this.body(node), 'class', { loops: [], branches: [], guards: [] }, [], cls.methods);
              this.out.classes.push(cls);
            }
          }
          continue;
        }
        case 'def': {
          group = undefined;
          if (kind === 'function') continue; // nested functions are not followed
          const fn = this.defHeader(k, e);
          if (!fn) continue;
          this.walk(this.body(node), 'function', { loops: [], branches: [], guards: [] }, fn.body);
          if (kind === 'module') this.out.functions.push(fn);
          else methods?.push(fn);
          continue;
        }
        case 'import':
        case 'from':
          group = undefined;
          this.importStmt(k, e);
          continue;
        case 'if':
          if (kind !== 'class' && this.isMainGuard(k, e)) {
            group = undefined;
            if (kind === 'module') this.out.mainGuard = true;
            this.walk(this.body(node), kind, scope, sink, methods);
            continue;
          }
          {
            const test = header();
            group = { id: `if${this.pos(k).line}`, n: 0, tests: [test] };
            this.walk(this.body(node), kind, branch(0, test), sink, methods);
          }
          continue;
        case 'try':
          group = { id: `try${this.pos(k).line}`, n: 0, tests: [] };
          this.walk(this.body(node), kind, branch(0), sink, methods);
          continue;
        case 'elif':
        case 'else':
        case 'except':
          if (group) {
            group.n++;
            const isIf = group.id.startsWith('if');
            const test = isIf && word === 'elif' ? header() : undefined;
            // The guards of `else`/`elif` need every earlier test false; a try's branches have none.
            const scoped = isIf ? branch(group.n, test) : { ...branch(group.n), guards: scope.guards };
            if (test) group.tests.push(test);
            this.walk(this.body(node), kind, scoped, sink, methods);
          } else {
            this.walk(this.body(node), kind, scope, sink, methods);
          }
          continue;
        case 'finally':
        case 'with':
          group = undefined;
          this.walk(this.body(node), kind, scope, sink, methods);
          continue;
        case 'for':
        case 'while': {
          group = undefined;
          const loop: Loop = { line: this.pos(k).line };
          if (word === 'for') {
            const colon = this.headerColon(node.line);
            const inAt = this.findTopLevel(k + 1, colon < 0 ? e : colon, (t) => t.kind === 'id' && t.text === 'in');
            if (inAt >= 0) loop.iterable = this.expr(inAt + 1, colon < 0 ? e : colon);
          }
          this.walk(this.body(node), kind, { loops: [...scope.loops, loop], branches: scope.branches, guards: scope.guards }, sink, methods);
          continue;
        }
        default:
          group = undefined;
          if (kind !== 'class') {
            const stmt = this.statement(k, e, scope);
            if (stmt) sink.push(stmt);
          }
      }
    }
  }

  private isMainGuard(k: number, e: number): boolean {
    const texts = this.tokens.slice(k + 1, e).map((t) => (t.kind === 'str' ? `"${t.value}"` : t.text));
    const line = texts.join(' ');
    return /^__name__ == "__main__" :/.test(line) || /^"__main__" == __name__ :/.test(line);
  }

  private classHeader(k: number, e: number): PyClass | undefined {
    const name = this.tokens[k + 1];
    if (name?.kind !== 'id') return undefined;
    const bases: Expr[] = [];
    if (this.tokens[k + 2]?.text === '(') {
      const close = matchingClose(this.tokens, k + 2);
      for (const [a, b] of splitTopLevel(this.tokens, k + 2, Math.min(close, e))) {
        if (this.tokens[a + 1]?.text === '=' && this.tokens[a]!.kind === 'id') continue; // metaclass=…
        bases.push(this.expr(a, b));
      }
    }
    return { name: name.text, at: this.pos(k + 1), bases, methods: [] };
  }

  private defHeader(k: number, e: number): PyFunction | undefined {
    const name = this.tokens[k + 1];
    if (name?.kind !== 'id' || this.tokens[k + 2]?.text !== '(') return undefined;
    const close = matchingClose(this.tokens, k + 2);
    const params: Param[] = [];
    for (const [a, b] of splitTopLevel(this.tokens, k + 2, Math.min(close, e))) {
      let i = a;
      let star: 1 | 2 | undefined;
      if (this.tokens[i]!.text === '*') { star = 1; i++; } else if (this.tokens[i]!.text === '**') { star = 2; i++; }
      const id = this.tokens[i];
      if (id?.kind !== 'id' || i >= b) continue; // a bare `*` or `/`
      const eq = this.findTopLevel(i + 1, b, (t) => t.kind === 'punct' && t.text === '=');
      params.push({ name: id.text, ...(star ? { star } : {}), ...(eq >= 0 ? { default: this.expr(eq + 1, b) } : {}) });
    }
    return { name: name.text, params, at: this.pos(k + 1), body: [] };
  }

  private importStmt(k: number, e: number): void {
    const { tokens } = this;
    const dotted = (i: number): { name: string; next: number } => {
      let name = '';
      let j = i;
      while (j < e && (tokens[j]!.text === '.' || tokens[j]!.text === '...')) name += tokens[j++]!.text;
      while (j < e && tokens[j]!.kind === 'id') {
        name += tokens[j]!.text;
        j++;
        if (tokens[j]?.text === '.' && tokens[j + 1]?.kind === 'id' && j + 1 < e) { name += '.'; j++; } else break;
      }
      return { name, next: j };
    };
    if (tokens[k]!.text === 'import') {
      for (const [a, b] of splitTopLevel(tokens, k, e)) {
        const mod = dotted(a === k ? a + 1 : a);
        if (!mod.name) continue;
        const alias = tokens[mod.next]?.text === 'as' && mod.next + 1 < b ? tokens[mod.next + 1]!.text : undefined;
        if (alias) this.out.imports.set(alias, { module: mod.name });
        else this.out.imports.set(mod.name.split('.')[0]!, { module: mod.name.split('.')[0]! });
      }
      return;
    }
    const mod = dotted(k + 1);
    if (tokens[mod.next]?.text !== 'import') return;
    let i = mod.next + 1;
    let end = e;
    if (tokens[i]?.text === '(') { end = Math.min(matchingClose(tokens, i), e); i++; }
    while (i < end) {
      const name = tokens[i];
      if (name?.kind !== 'id') { i++; continue; }
      let alias = name.text;
      let j = i + 1;
      if (tokens[j]?.text === 'as' && tokens[j + 1]?.kind === 'id') { alias = tokens[j + 1]!.text; j += 2; }
      const entry: PyImport = { module: mod.name, name: name.text };
      this.out.imports.set(alias, entry);
      i = j;
      while (i < end && tokens[i]!.text === ',') i++;
    }
  }

  // ---- statements ---------------------------------------------------------------------------------

  private statement(s: number, e: number, scope: Scope): Stmt | undefined {
    const t = this.tokens[s]!;
    const base = { loops: scope.loops, branches: scope.branches, guards: scope.guards, at: this.pos(s) };
    if (t.kind === 'id' && t.text === 'return') {
      return s + 1 < e ? { kind: 'return', value: this.expr(s + 1, e), ...base } : undefined;
    }
    if (t.kind === 'id' && NON_EXPR_WORDS.has(t.text)) return undefined;
    const eqs: number[] = [];
    let aug = -1;
    let depth = 0;
    for (let i = s; i < e; i++) {
      const x = this.tokens[i]!;
      if (x.kind !== 'punct') continue;
      if (OPEN.has(x.text)) depth++;
      else if (CLOSE.has(x.text)) depth--;
      else if (depth === 0 && x.text === '=') eqs.push(i);
      else if (depth === 0 && x.text === '+=' && aug < 0) aug = i;
    }
    if (eqs.length) {
      const targets: Expr[] = [];
      let from = s;
      for (const eq of eqs) {
        const colon = this.findTopLevel(from, eq, (x) => x.kind === 'punct' && x.text === ':');
        const end = colon >= 0 ? colon : eq;
        if (this.findTopLevel(from, end, (x) => x.kind === 'punct' && x.text === ',') < 0) targets.push(this.expr(from, end));
        from = eq + 1;
      }
      return { kind: 'assign', targets, value: this.expr(from, e), ...base };
    }
    if (aug >= 0) return { kind: 'augadd', target: this.expr(s, aug), value: this.expr(aug + 1, e), ...base };
    return { kind: 'expr', value: this.expr(s, e), ...base };
  }

  /** [start, end) ranges of the tokens between top-level occurrences of the word `op`. */
  private splitTopLevelWord(s: number, e: number, op: string): Array<[number, number]> {
    const parts: Array<[number, number]> = [];
    let from = s;
    for (;;) {
      const at = this.findTopLevel(from, e, (t) => t.kind === 'id' && t.text === op);
      if (at < 0) break;
      parts.push([from, at]);
      from = at + 1;
    }
    parts.push([from, e]);
    return parts;
  }

  /** The one top-level comparison in [s, e): undefined when there is none, null when there are several. */
  private comparison(s: number, e: number): { op: CompareOp; at: number; width: number } | undefined | null {
    let found: { op: CompareOp; at: number; width: number } | undefined;
    let depth = 0;
    for (let i = s; i < e; i++) {
      const t = this.tokens[i]!;
      if (t.kind === 'punct' && OPEN.has(t.text)) { depth++; continue; }
      if (t.kind === 'punct' && CLOSE.has(t.text)) { depth--; continue; }
      if (depth !== 0 || i === s) continue;
      let op: CompareOp | undefined;
      let width = 1;
      if (t.kind === 'punct' && COMPARISONS.has(t.text)) op = t.text as CompareOp;
      else if (t.kind === 'id' && t.text === 'is') {
        if (this.tokens[i + 1]?.text === 'not') { op = 'is not'; width = 2; } else op = 'is';
      } else if (t.kind === 'id' && t.text === 'in') op = 'in';
      else if (t.kind === 'id' && t.text === 'not' && this.tokens[i + 1]?.text === 'in') { op = 'not in'; width = 2; }
      if (!op) continue;
      if (found) return null;
      found = { op, at: i, width };
      i += width - 1;
    }
    return found;
  }

  private findTopLevel(s: number, e: number, match: (t: Token) => boolean): number {
    let depth = 0;
    for (let i = s; i < e; i++) {
      const t = this.tokens[i]!;
      if (t.kind === 'punct' && OPEN.has(t.text)) depth++;
      else if (t.kind === 'punct' && CLOSE.has(t.text)) depth--;
      else if (depth === 0 && match(t)) return i;
    }
    return -1;
  }

  // ---- expressions --------------------------------------------------------------------------------

  expr(s: number, e: number): Expr {
    const { tokens } = this;
    if (s >= e) return { kind: 'other', at: s < tokens.length ? this.pos(s) : { line: 0, column: 0 } };
    const at = this.pos(s);
    const word = (text: string) => (t: Token): boolean => t.kind === 'id' && t.text === text;
    if (word('lambda')(tokens[s]!) || this.findTopLevel(s, e, (t) => UNMODELLED.has(t.text) && t.kind !== 'str') >= 0) return { kind: 'other', at };
    // Lowest precedence first: `a if c else b`, or, and, not, one comparison.
    const ifAt = this.findTopLevel(s, e, (t) => t !== tokens[s] && word('if')(t));
    if (ifAt >= 0) {
      const elseAt = this.findTopLevel(ifAt + 1, e, word('else'));
      if (elseAt < 0) return { kind: 'other', at };
      return { kind: 'cond', then: this.expr(s, ifAt), test: this.expr(ifAt + 1, elseAt), orelse: this.expr(elseAt + 1, e), at };
    }
    for (const op of ['or', 'and'] as const) {
      const parts = this.splitTopLevelWord(s, e, op);
      if (parts.length > 1) return { kind: 'boolop', op, values: parts.map(([a, b]) => this.expr(a, b)), at };
    }
    if (word('not')(tokens[s]!)) return { kind: 'not', value: this.expr(s + 1, e), at };
    const cmp = this.comparison(s, e);
    if (cmp === null) return { kind: 'other', at };
    if (cmp) return { kind: 'compare', op: cmp.op, left: this.expr(s, cmp.at), right: this.expr(cmp.at + cmp.width, e), at };
    // Binary + and - (left-associative: split at the last one), then * (same).
    for (const ops of [['+', '-'], ['*']] as const) {
      let split = -1;
      let depth = 0;
      for (let i = s; i < e; i++) {
        const t = tokens[i]!;
        if (t.kind !== 'punct') continue;
        if (OPEN.has(t.text)) depth++;
        else if (CLOSE.has(t.text)) depth--;
        else if (depth === 0 && (ops as readonly string[]).includes(t.text) && i > s && OPERAND_END(tokens[i - 1])) split = i;
      }
      if (split >= 0) {
        return { kind: 'binop', op: tokens[split]!.text as '+' | '-' | '*', left: this.expr(s, split), right: this.expr(split + 1, e), at };
      }
    }
    if (this.findTopLevel(s, e, (t) => t.kind === 'punct' && ['/', '//', '%', '@'].includes(t.text)) >= 0) return { kind: 'other', at };
    const first = tokens[s]!;
    if (first.kind === 'punct' && first.text === '*') return { kind: 'star', value: this.expr(s + 1, e), at };
    if (first.kind === 'punct' && first.text === '-' && tokens[s + 1]?.kind === 'num' && s + 2 === e) {
      const v = parseNumber(tokens[s + 1]!.text);
      return v === undefined ? { kind: 'other', at } : { kind: 'num', value: -v, at };
    }
    return this.primary(s, e);
  }

  private primary(s: number, e: number): Expr {
    const { tokens } = this;
    const at = this.pos(s);
    const other: Expr = { kind: 'other', at };
    const t = tokens[s]!;
    let cur: Expr;
    let i: number;
    if (t.kind === 'id') {
      if (NON_EXPR_WORDS.has(t.text)) return other;
      if (t.text === 'None' || t.text === 'True' || t.text === 'False') {
        cur = { kind: 'const', value: t.text, at };
        i = s + 1;
      } else {
        const parts = [t.text];
        i = s + 1;
        while (i + 1 < e && tokens[i]!.text === '.' && tokens[i + 1]!.kind === 'id') {
          parts.push(tokens[i + 1]!.text);
          i += 2;
        }
        cur = { kind: 'name', parts, at };
      }
    } else if (t.kind === 'num') {
      const v = parseNumber(t.text);
      if (v === undefined) return other;
      cur = { kind: 'num', value: v, at };
      i = s + 1;
    } else if (t.kind === 'str') {
      let value = '';
      i = s;
      while (i < e && tokens[i]!.kind === 'str') {
        if (tokens[i]!.value == null) return other;
        value += tokens[i]!.value;
        i++;
      }
      cur = { kind: 'str', value, at };
    } else if (t.kind === 'punct' && OPEN.has(t.text)) {
      const close = matchingClose(tokens, s);
      if (close >= e) return other;
      cur = this.bracket(s, close, at);
      i = close + 1;
    } else {
      return other;
    }
    // Trailers: .name, (args), [index].
    while (i < e) {
      const x = tokens[i]!;
      if (x.text === '.' && tokens[i + 1]?.kind === 'id' && i + 1 < e) {
        const name = tokens[i + 1]!.text;
        cur = cur.kind === 'name' ? { kind: 'name', parts: [...cur.parts, name], at } : { kind: 'getattr', object: cur, name, at };
        i += 2;
      } else if (x.text === '(' || x.text === '[') {
        const close = matchingClose(tokens, i);
        if (close >= e) return other;
        cur = x.text === '('
          ? { kind: 'call', callee: cur, args: this.args(i, close), at, span: [tokens[s]!.start, tokens[close]!.start + 1] }
          : { kind: 'index', object: cur, index: this.expr(i + 1, close), at };
        i = close + 1;
      } else {
        return other;
      }
    }
    return cur;
  }

  private bracket(open: number, close: number, at: Pos): Expr {
    const { tokens } = this;
    const kind = tokens[open]!.text;
    if (close === open + 1) return kind === '{' ? { kind: 'dict', entries: [], at } : { kind: 'list', items: [], at };
    const forAt = this.findTopLevel(open + 1, close, (t) => t.kind === 'id' && t.text === 'for');
    if (forAt >= 0) return kind === '{' ? { kind: 'other', at } : this.comprehension(open + 1, forAt, close, at);
    const parts = splitTopLevel(tokens, open, close);
    if (kind === '{') {
      const entries: Array<{ key: Expr; value: Expr }> = [];
      for (const [a, b] of parts) {
        const colon = this.findTopLevel(a, b, (t) => t.kind === 'punct' && t.text === ':');
        if (colon < 0) return { kind: 'other', at }; // a set, or `**other`
        entries.push({ key: this.expr(a, colon), value: this.expr(colon + 1, b) });
      }
      return { kind: 'dict', entries, at };
    }
    const hasComma = this.findTopLevel(open + 1, close, (t) => t.kind === 'punct' && t.text === ',') >= 0;
    if (kind === '(' && !hasComma) return this.expr(open + 1, close);
    return { kind: 'list', items: parts.map(([a, b]) => this.expr(a, b)), at };
  }

  private comprehension(s: number, forAt: number, e: number, at: Pos): Expr {
    const iterables: Expr[] = [];
    let filtered = false;
    let i = forAt;
    while (i >= 0 && i < e) {
      const inAt = this.findTopLevel(i + 1, e, (t) => t.kind === 'id' && t.text === 'in');
      if (inAt < 0) break;
      const next = this.findTopLevel(inAt + 1, e, (t) => t.kind === 'id' && (t.text === 'for' || t.text === 'if'));
      iterables.push(this.expr(inAt + 1, next < 0 ? e : next));
      if (next >= 0 && this.tokens[next]!.text === 'if') {
        filtered = true;
        i = this.findTopLevel(next + 1, e, (t) => t.kind === 'id' && t.text === 'for');
      } else {
        i = next;
      }
    }
    return { kind: 'comp', element: this.expr(s, forAt), iterables, filtered, at };
  }

  private args(open: number, close: number): Arg[] {
    const { tokens } = this;
    if (this.findTopLevel(open + 1, close, (t) => t.kind === 'id' && t.text === 'for') >= 0) {
      return [{ value: this.comprehension(open + 1, this.findTopLevel(open + 1, close, (t) => t.kind === 'id' && t.text === 'for'), close, this.pos(open + 1)) }];
    }
    const out: Arg[] = [];
    for (const [a, b] of splitTopLevel(tokens, open, close)) {
      const t = tokens[a]!;
      if (t.kind === 'punct' && t.text === '**') out.push({ star: 2, value: this.expr(a + 1, b) });
      else if (t.kind === 'punct' && t.text === '*') out.push({ star: 1, value: this.expr(a + 1, b) });
      else if (t.kind === 'id' && tokens[a + 1]?.text === '=' && a + 1 < b) out.push({ name: t.text, value: this.expr(a + 2, b) });
      else out.push({ value: this.expr(a, b) });
    }
    return out;
  }
}

function parseNumber(text: string): number | undefined {
  const clean = text.replace(/_/g, '');
  if (/^0[xob]/i.test(clean)) {
    const v = Number(clean);
    return Number.isFinite(v) ? v : undefined;
  }
  if (/[jJ]$/.test(clean)) return undefined;
  const v = Number(clean.replace(/[lL]$/, ''));
  return Number.isFinite(v) ? v : undefined;
}

// A small tokenizer for Python and JavaScript/TypeScript source: enough to see calls, keyword
// arguments, object literals and string values, while never mistaking text inside comments or
// strings for code. It does not validate syntax; malformed input yields tokens, not exceptions.

export type Language = 'python' | 'javascript';

export type TokenKind = 'id' | 'str' | 'num' | 'punct';

export interface Token {
  kind: TokenKind;
  /** Source text for id/num/punct; for str the raw literal including quotes. */
  text: string;
  /** Decoded value of a string literal; null when it is not a constant (f-string, `${}` template). */
  value?: string | null;
  /** Offset of the token's first character. */
  start: number;
}

// Longest first, so that `==` is never read as `=`.
const OPERATORS = [
  '===', '!==', '**=', '//=', '>>=', '<<=', '...',
  '==', '!=', '<=', '>=', '=>', ':=', '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '@=', '->',
  '**', '//', '<<', '>>', '&&', '||', '??', '?.',
];

const ID_START = /[A-Za-z_$\u00C0-\uFFFF]/;
const ID_PART = /[A-Za-z0-9_$\u00C0-\uFFFF]/;

const JS_KEYWORDS_BEFORE_REGEX = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await']);

export function tokenize(text: string, language: Language): Token[] {
  const tokens: Token[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v' || c === '\\') {
      i++; // a backslash outside a string is a line continuation
      continue;
    }
    if (language === 'python' && c === '#') {
      i = skipToLineEnd(text, i);
      continue;
    }
    if (language === 'javascript' && c === '/' && text[i + 1] === '/') {
      i = skipToLineEnd(text, i);
      continue;
    }
    if (language === 'javascript' && c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
      continue;
    }
    if (language === 'javascript' && c === '/' && regexAllowed(tokens)) {
      i = skipRegex(text, i);
      continue;
    }
    if (ID_START.test(c)) {
      let j = i + 1;
      while (j < n && ID_PART.test(text[j]!)) j++;
      const word = text.slice(i, j);
      // Python string prefixes (r, b, f, u and pairs) directly before a quote belong to the string.
      if (language === 'python' && (text[j] === '"' || text[j] === "'") && /^(?:[rRbBuUfF]|[rR][bBfF]|[bBfF][rR])$/.test(word)) {
        const end = scanPythonString(text, j);
        const raw = text.slice(i, end);
        tokens.push({ kind: 'str', text: raw, value: decodePythonString(raw, word), start: i });
        i = end;
        continue;
      }
      tokens.push({ kind: 'id', text: word, start: i });
      i = j;
      continue;
    }
    if (c === '"' || c === "'") {
      if (language === 'python') {
        const end = scanPythonString(text, i);
        const raw = text.slice(i, end);
        tokens.push({ kind: 'str', text: raw, value: decodePythonString(raw, ''), start: i });
        i = end;
      } else {
        const end = scanQuoted(text, i, c);
        const raw = text.slice(i, end);
        tokens.push({ kind: 'str', text: raw, value: decodeEscapes(raw.slice(1, raw.endsWith(c) && raw.length > 1 ? -1 : undefined)), start: i });
        i = end;
      }
      continue;
    }
    if (c === '`' && language === 'javascript') {
      const { end, constant } = scanTemplate(text, i);
      const raw = text.slice(i, end);
      tokens.push({ kind: 'str', text: raw, value: constant ? decodeEscapes(raw.slice(1, -1)) : null, start: i });
      i = end;
      continue;
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(text[i + 1] ?? ''))) {
      let j = i + 1;
      while (j < n && /[0-9A-Za-z_.]/.test(text[j]!)) j++;
      tokens.push({ kind: 'num', text: text.slice(i, j), start: i });
      i = j;
      continue;
    }
    const op = OPERATORS.find((o) => text.startsWith(o, i));
    const punct = op ?? c;
    tokens.push({ kind: 'punct', text: punct, start: i });
    i += punct.length;
  }
  return tokens;
}

function skipToLineEnd(text: string, i: number): number {
  const end = text.indexOf('\n', i);
  return end < 0 ? text.length : end;
}

/** Offset just past a Python string literal whose opening quote is at `i`. */
function scanPythonString(text: string, i: number): number {
  const q = text[i]!;
  const triple = text.startsWith(q + q + q, i);
  const close = triple ? q + q + q : q;
  let j = i + close.length;
  while (j < text.length) {
    const ch = text[j]!;
    if (ch === '\\') { j += 2; continue; }
    if (!triple && ch === '\n') return j; // unterminated: stop at the line end
    if (text.startsWith(close, j)) return j + close.length;
    j++;
  }
  return text.length;
}

function scanQuoted(text: string, i: number, q: string): number {
  let j = i + 1;
  while (j < text.length) {
    const ch = text[j]!;
    if (ch === '\\') { j += 2; continue; }
    if (ch === '\n') return j;
    if (ch === q) return j + 1;
    j++;
  }
  return text.length;
}

/** A template literal, skipping `${ ... }` expressions (which may hold strings and templates). */
function scanTemplate(text: string, i: number): { end: number; constant: boolean } {
  let j = i + 1;
  let constant = true;
  while (j < text.length) {
    const ch = text[j]!;
    if (ch === '\\') { j += 2; continue; }
    if (ch === '`') return { end: j + 1, constant };
    if (ch === '$' && text[j + 1] === '{') {
      constant = false;
      let depth = 1;
      j += 2;
      while (j < text.length && depth > 0) {
        const d = text[j]!;
        if (d === '{') depth++;
        else if (d === '}') depth--;
        else if (d === '"' || d === "'") { j = scanQuoted(text, j, d); continue; }
        else if (d === '`') { j = scanTemplate(text, j).end; continue; }
        j++;
      }
      continue;
    }
    j++;
  }
  return { end: text.length, constant };
}

function regexAllowed(tokens: Token[]): boolean {
  const prev = tokens[tokens.length - 1];
  if (!prev) return true;
  if (prev.kind === 'num' || prev.kind === 'str') return false;
  if (prev.kind === 'id') return JS_KEYWORDS_BEFORE_REGEX.has(prev.text);
  return !(prev.text === ')' || prev.text === ']' || prev.text === '}');
}

function skipRegex(text: string, i: number): number {
  let j = i + 1;
  let inClass = false;
  while (j < text.length) {
    const ch = text[j]!;
    if (ch === '\\') { j += 2; continue; }
    if (ch === '\n') return j;
    if (ch === '[') inClass = true;
    else if (ch === ']') inClass = false;
    else if (ch === '/' && !inClass) {
      j++;
      while (j < text.length && /[a-z]/i.test(text[j]!)) j++;
      return j;
    }
    j++;
  }
  return text.length;
}

function decodePythonString(raw: string, prefix: string): string | null {
  const p = prefix.toLowerCase();
  const body = raw.slice(prefix.length);
  const q = body[0]!;
  const triple = body.startsWith(q + q + q);
  const open = triple ? 3 : 1;
  const closed = body.length >= open * 2 && body.endsWith(triple ? q + q + q : q);
  const inner = body.slice(open, closed ? body.length - open : body.length);
  if (p.includes('f') && /\{(?!\{)/.test(inner)) return null;
  return p.includes('r') ? inner : decodeEscapes(inner);
}

const SIMPLE_ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', v: '\v', '0': '\0' };

function decodeEscapes(s: string): string {
  return s.replace(/\\(u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|\r?\n|.)/g, (_m, e: string) => {
    if (e.startsWith('u{')) return String.fromCodePoint(parseInt(e.slice(2, -1), 16));
    if (e[0] === 'u' && e.length === 5) return String.fromCharCode(parseInt(e.slice(1), 16));
    if (e[0] === 'x' && e.length === 3) return String.fromCharCode(parseInt(e.slice(1), 16));
    if (e === '\n' || e === '\r\n') return '';
    return SIMPLE_ESCAPES[e] ?? e;
  });
}

/** Maps offsets to 0-based line and column. */
export class LineMap {
  private readonly starts: number[] = [0];
  constructor(text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
  }
  position(offset: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo, column: offset - this.starts[lo]! };
  }
}

const OPEN: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

/** Index of the bracket closing the one at `open`, or tokens.length when unbalanced. */
export function matchingClose(tokens: Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind !== 'punct') continue;
    if (t.text in OPEN) depth++;
    else if (t.text === ')' || t.text === ']' || t.text === '}') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return tokens.length;
}

/** Splits tokens (open, close) exclusive at top-level commas into [start, end) ranges. */
export function splitTopLevel(tokens: Token[], open: number, close: number): Array<[number, number]> {
  const parts: Array<[number, number]> = [];
  let depth = 0;
  let start = open + 1;
  for (let i = open + 1; i < close; i++) {
    const t = tokens[i]!;
    if (t.kind !== 'punct') continue;
    if (t.text in OPEN) depth++;
    else if (t.text === ')' || t.text === ']' || t.text === '}') depth--;
    else if (t.text === ',' && depth === 0) {
      if (i > start) parts.push([start, i]);
      start = i + 1;
    }
  }
  if (close > start) parts.push([start, close]);
  return parts;
}

/**
 * The dotted name (`tf.keras.layers.Dense`) ending at token `end` (inclusive), walking back over
 * `id . id . id`. Returns the parts and the index of the first token, or null.
 */
export function dottedNameEndingAt(tokens: Token[], end: number): { parts: string[]; first: number } | null {
  const last = tokens[end];
  if (!last || last.kind !== 'id') return null;
  const parts = [last.text];
  let i = end;
  while (i >= 2 && tokens[i - 1]!.text === '.' && tokens[i - 2]!.kind === 'id') {
    parts.unshift(tokens[i - 2]!.text);
    i -= 2;
  }
  return { parts, first: i };
}

// What the language scanners share: finding the string literals that may name a model's folder
// (and whether they sit inside a model-saving call), and the string value of a call argument.
import { dottedNameEndingAt, type LineMap, type Token } from './tokens';
import type { PathMention } from './types';

/** Calls that write a model, by their last name part: `model.save`, `tfjs.converters.save_keras_model`. */
const SAVE_CALLS = new Set([
  'save', 'save_model', 'save_keras_model', 'save_weights', 'saveLayersModel', 'export', 'convert_tf_saved_model',
  'convert_keras_model', 'save_pretrained',
]);

const MAX_MENTION_LENGTH = 300;

/** Every constant string that could be a path, noting the enclosing save call if any. */
export function collectMentions(tokens: Token[], lines: LineMap): PathMention[] {
  const mentions: PathMention[] = [];
  // One entry per open bracket: the callee's last name part when it is a save call.
  const stack: Array<string | null> = [];
  let saveDepth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'punct') {
      if (t.text === '(' || t.text === '[' || t.text === '{') {
        let save: string | null = null;
        if (t.text === '(') {
          const callee = dottedNameEndingAt(tokens, i - 1);
          const last = callee?.parts[callee.parts.length - 1];
          if (last !== undefined && SAVE_CALLS.has(last)) save = callee!.parts.join('.');
        }
        stack.push(save);
        if (save) saveDepth++;
      } else if (t.text === ')' || t.text === ']' || t.text === '}') {
        const popped = stack.pop();
        if (popped) saveDepth--;
      }
      continue;
    }
    if (t.kind !== 'str' || t.value == null) continue;
    const value = t.value;
    if (value.length === 0 || value.length > MAX_MENTION_LENGTH || /[\n\r]/.test(value)) continue;
    const mention: PathMention = { value, line: lines.position(t.start).line };
    if (saveDepth > 0) mention.saveCall = [...stack].reverse().find((s) => s !== null) ?? undefined;
    if (mention.saveCall === undefined) delete mention.saveCall;
    mentions.push(mention);
  }
  return mentions;
}

/** The constant string value of an argument range that is exactly one string literal. */
export function stringArg(tokens: Token[], [start, end]: [number, number]): Token | null {
  if (end - start !== 1) return null;
  const t = tokens[start]!;
  return t.kind === 'str' && t.value != null ? t : null;
}

// Layer definitions in JavaScript/TypeScript written with TF.js: `tf.layers.conv2d({ name: 'conv1', ... })`.
import { collectMentions } from './calls';
import { dottedNameEndingAt, LineMap, matchingClose, splitTopLevel, tokenize } from './tokens';
import type { FileScan, LayerDefinition } from './types';

// Factories whose class name is not the factory with its first letter raised and `Nd` → `ND`.
const CLASS_EXCEPTIONS: Record<string, string> = {
  prelu: 'PReLU', elu: 'ELU', reLU: 'ReLU', leakyReLU: 'LeakyReLU', thresholdedReLU: 'ThresholdedReLU',
  lstm: 'LSTM', gru: 'GRU', simpleRNN: 'SimpleRNN', rnn: 'RNN', lstmCell: 'LSTMCell', gruCell: 'GRUCell',
  simpleRNNCell: 'SimpleRNNCell', convLstm2d: 'ConvLSTM2D', convLstm2dCell: 'ConvLSTM2DCell',
  inputLayer: 'InputLayer',
};

/** `conv2d` → `Conv2D`, `maxPooling2d` → `MaxPooling2D`, `conv2dTranspose` → `Conv2DTranspose`. */
export function tfjsClassName(factory: string): string {
  const known = CLASS_EXCEPTIONS[factory];
  if (known) return known;
  return (factory[0]!.toUpperCase() + factory.slice(1)).replace(/(\d)d(?=[A-Z]|$)/g, '$1D');
}

export function scanTfjs(file: string, text: string): FileScan {
  const tokens = tokenize(text, 'javascript');
  const lines = new LineMap(text);
  const definitions: LayerDefinition[] = [];
  for (let open = 0; open < tokens.length; open++) {
    if (tokens[open]!.text !== '(' || tokens[open]!.kind !== 'punct') continue;
    const callee = dottedNameEndingAt(tokens, open - 1);
    if (!callee || callee.parts.length < 2 || callee.parts[callee.parts.length - 2] !== 'layers') continue;
    const factory = callee.parts[callee.parts.length - 1]!;
    if (!/^[a-z]/.test(factory) || tokens[callee.first - 1]?.text === '.') continue;
    const objOpen = open + 1;
    if (tokens[objOpen]?.text !== '{') continue;
    for (const [s, e] of splitTopLevel(tokens, objOpen, matchingClose(tokens, objOpen))) {
      const key = tokens[s]!;
      const keyName = key.kind === 'id' ? key.text : key.kind === 'str' ? key.value : null;
      if (keyName !== 'name' || tokens[s + 1]?.text !== ':' || e - s !== 3) continue;
      const value = tokens[s + 2]!;
      if (value.kind !== 'str' || value.value == null) break;
      const call = lines.position(tokens[callee.first]!.start);
      const at = lines.position(value.start);
      definitions.push({
        name: value.value, file, line: call.line, column: call.column, nameLine: at.line, nameColumn: at.column,
        framework: 'tfjs', className: tfjsClassName(factory),
      });
      break;
    }
  }
  return { definitions, mentions: collectMentions(tokens, lines) };
}

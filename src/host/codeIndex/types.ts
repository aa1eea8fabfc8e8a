import type { KerasAutoCall } from './kerasNames';

export type LayerFramework = 'keras' | 'tfjs' | 'pytorch';

/** Where a layer is defined in source code. Lines and columns are 0-based (as in VS Code). */
export interface LayerDefinition {
  /** Layer name as the model reports it: `conv1`, `logits`, `features.0`. */
  name: string;
  /** Path as given to the index (absolute paths recommended). */
  file: string;
  /** Position of the call that creates the layer (`layers.Conv2D(`, `nn.Conv2d(`). */
  line: number;
  column: number;
  /** Position of the text that names the layer: the `name=` string, or the attribute `self.conv1`. */
  nameLine: number;
  nameColumn: number;
  framework: LayerFramework;
  /** Class the call creates, in the framework's spelling: `Conv2D`, `Dense`, `Conv2d`. */
  className: string;
  /** How an unnamed Keras layer was linked (creation order, kerasNames.ts); absent when the source spells the name. */
  link?: string;
}

/** A string literal that may be a path, kept so that ranking can tell which file wrote a model. */
export interface PathMention {
  value: string;
  line: number;
  /** Name of the call this string is an argument of, when it is a model-saving call. */
  saveCall?: string;
}

export interface FileScan {
  definitions: LayerDefinition[];
  mentions: PathMention[];
  /** Keras layers built without `name=` (Python files), linked to a model's layers by creation order. */
  kerasAuto?: KerasAutoCall[];
}

export interface RankedDefinition {
  definition: LayerDefinition;
  /** Higher is better; only the order matters. */
  score: number;
  /** Why this definition is where it is in the list, for the user. */
  reason: string;
}

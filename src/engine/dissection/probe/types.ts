import type { RgbaImage } from '../../types';

/** A labelled concept; its id is its index in ProbeDataset.concepts (0 is reserved for "no label"). */
export interface Concept {
  name: string;
  category: string;
}

/** Per-pixel concept labels of one probe image, at the segmentation's own resolution. */
export interface Segmentation {
  width: number;
  height: number;
  /** Label planes (a pixel may carry one concept per plane, e.g. a colour and a texture); 0 = none. */
  planes: Uint16Array[];
  /** Concepts that cover the whole image (Broden's scene labels). */
  imageLabels: number[];
  /** Indices into ProbeDataset.categories annotated in this image: its pixels count towards those categories' unions. */
  categories: number[];
}

export interface ProbeSample {
  image: RgbaImage;
  segmentation: Segmentation;
}

/**
 * A probe set for network dissection, read in any order. Implementations: the built-in generator,
 * Broden-format datasets, and one-folder-per-concept datasets; later probe sets (e.g. TCAV's concept
 * folders) implement the same interface.
 */
export interface ProbeDataset {
  readonly kind: 'builtin' | 'broden' | 'folders';
  readonly name: string;
  /** Changes whenever the data could: part of the cache key of results computed on it. */
  readonly identity: string;
  readonly categories: readonly string[];
  /** Index = concept id; entry 0 is a placeholder for "no label". */
  readonly concepts: readonly Concept[];
  readonly length: number;
  sample(index: number): Promise<ProbeSample>;
}

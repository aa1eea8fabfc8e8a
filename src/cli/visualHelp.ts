/** `loupe --help` text of visualize and blocks (no imports: args.ts reads it while loading). */
export const VISUAL_HELP = `
visualize options (Lucid's feature visualisation: Fourier image, decorrelated colour, standard transforms):
  --layer NAME       layer of the unit
  --unit N           unit (channel) index
  --objective O      channel | neuron | direction (default channel)
  --vector LIST      direction: comma-separated weights, one per channel (default: the unit's one-hot vector)
  --cosine           direction: cosine similarity (Lucent's) instead of Lucid's dot product
  --x N, --y N       neuron / direction: the position (default the centre)
  --diversity K      optimise K images at once with Lucid's diversity penalty (weight --diversity-weight, default 100)
  --steps N          optimisation steps (default 512)
  --size N           image side (default 128, or the model's input side when smaller)
  --lr R             Adam learning rate (default 0.05)
  --seed N           seed (default 0)
  --refresh          recompute even when a cached result exists
  --preprocessing J  as for explain (part of the cache key)
  --out DIR          folder for unit_<N>.png (and unit_<N>_<k>.png per image of a batch) and summary.json
`;

export const BLOCKS_HELP = `
blocks options (the Building Blocks of Interpretability, Olah et al. 2018, on one image):
  --image IMAGE      the image
  --layer NAME       layer with an H×W×C output
  --groups K         NMF neuron groups (default 6)
  --class C          class the attributions explain (default: the top prediction)
  --versus C2        explain logit(C) − logit(C2) instead
  --to LAYER         also attribute LAYER's activation norms to this layer's positions (one backward per position)
  --path-steps N     path-integrated channel attribution steps (default 100)
  --top N            channels per position in dictionary.json (default 4)
  --preprocessing J  as for explain
  --out DIR          folder for groups.npy (K×H×W), group_channels.npy (K×C), dictionary.json,
                     spatial_attribution.npy (H×W), channel_attribution.npy (C, path-integrated),
                     channel_attribution_simple.npy, PNG overlays and summary.json
`;

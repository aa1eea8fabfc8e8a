/** Transposes a row-major array of shape `dims` by `perm` (as numpy.transpose). */
export function permute(data: ArrayLike<number>, dims: number[], perm: number[]): Float32Array {
  const outDims = perm.map((p) => dims[p]!);
  const strides = dims.map((_, i) => dims.slice(i + 1).reduce((a, b) => a * b, 1));
  const out = new Float32Array(data.length);
  const idx = new Array<number>(dims.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let k = 0; k < perm.length; k++) src += idx[k]! * strides[perm[k]!]!;
    out[o] = data[src]!;
    for (let k = outDims.length - 1; k >= 0; k--) {
      if (++idx[k]! < outDims[k]!) break;
      idx[k] = 0;
    }
  }
  return out;
}

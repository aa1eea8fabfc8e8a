import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { float32View, requireDtype, requireRank4, requireShape } from './wasmKernelUtil';

/**
 * dw[kh, kw, c, m] = Σ_{b, oy, ox} x[b, oy·sH + kh·dH − top, ox·sW + kw·dW − left, c] · dy[b, oy, ox, c·M + m].
 * Sums run over every output pixel, so they accumulate in float64; the innermost loop walks channels.
 * Unlike the cpu backend's version it honours dilations.
 */
function depthwiseConv2dNativeBackpropFilter(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const name = tf.DepthwiseConv2dNativeBackpropFilter;
  const backend = args.backend as BackendWasm;
  const x = args.inputs['x']!;
  const dy = args.inputs['dy']!;
  const attrs = (args.attrs ?? {}) as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  requireDtype(name, x, 'x');
  requireDtype(name, dy, 'dy');
  requireRank4(name, x.shape, 'input');
  requireRank4(name, attrs.filterShape, 'filter');
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, outChannels: CO } = info;
  requireShape(name, dy.shape, [B, OH, OW, CO], 'dy');
  const M = CO / C;
  const { filterHeight: KH, filterWidth: KW, strideHeight: sH, strideWidth: sW, dilationHeight: dH, dilationWidth: dW } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;

  const acc = new Float64Array(KH * KW * CO);
  const out = backend.makeOutput(info.filterShape, 'float32');
  const xV = float32View(backend, x);
  const dyV = float32View(backend, dy);

  const xRow = W * C;
  for (let b = 0; b < B; b++) {
    for (let oy = 0; oy < OH; oy++) {
      const dyRowOff = (b * OH + oy) * OW * CO;
      for (let kh = 0; kh < KH; kh++) {
        const ih = oy * sH + kh * dH - top;
        if (ih < 0 || ih >= H) continue;
        const xRowOff = (b * H + ih) * xRow;
        const accRowOff = kh * KW * CO;
        for (let ox = 0; ox < OW; ox++) {
          const dyOff = dyRowOff + ox * CO;
          const iw0 = ox * sW - left;
          for (let kw = 0; kw < KW; kw++) {
            const iw = iw0 + kw * dW;
            if (iw < 0 || iw >= W) continue;
            const xOff = xRowOff + iw * C;
            const accOff = accRowOff + kw * CO;
            if (M === 1) {
              for (let c = 0; c < C; c++) acc[accOff + c]! += xV[xOff + c]! * dyV[dyOff + c]!;
            } else {
              for (let c = 0, cm = 0; c < C; c++) {
                const xv = xV[xOff + c]!;
                for (let m = 0; m < M; m++, cm++) acc[accOff + cm]! += xv * dyV[dyOff + cm]!;
              }
            }
          }
        }
      }
    }
  }
  float32View(backend, out).set(acc);
  return out;
}

export const depthwiseConv2dNativeBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dNativeBackpropFilter as unknown as tf.KernelFunc,
};

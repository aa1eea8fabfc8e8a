import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { float32View, requireDtype, requireRank4, requireShape } from './wasmKernelUtil';

type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

/**
 * dx[b, ih, iw, c] = Σ dy[b, oy, ox, c·M + m] · w[kh, kw, c, m] over ih = oy·sH + kh·dH − top,
 * iw = ox·sW + kw·dW − left. Scattered from each output pixel so the innermost loop walks channels,
 * which are contiguous in dx, dy and w alike. Unlike the cpu backend's version it honours dilations.
 */
function depthwiseConv2dNativeBackpropInput(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const name = tf.DepthwiseConv2dNativeBackpropInput;
  const backend = args.backend as BackendWasm;
  const dy = args.inputs['dy']!;
  const filter = args.inputs['filter']!;
  const attrs = (args.attrs ?? {}) as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  requireDtype(name, dy, 'dy');
  requireDtype(name, filter, 'filter');
  requireRank4(name, attrs.inputShape, 'input');
  requireRank4(name, filter.shape, 'filter');
  const info: Conv2DInfo = tf.backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as [number, number, number, number],
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

  const out = backend.makeOutput(info.inShape, 'float32');
  const dx = float32View(backend, out);
  const dyV = float32View(backend, dy);
  const w = float32View(backend, filter);
  dx.fill(0);

  const dxRow = W * C;
  const dxImage = H * dxRow;
  for (let b = 0; b < B; b++) {
    const dxB = b * dxImage;
    for (let oy = 0; oy < OH; oy++) {
      const dyRowOff = (b * OH + oy) * OW * CO;
      for (let kh = 0; kh < KH; kh++) {
        const ih = oy * sH + kh * dH - top;
        if (ih < 0 || ih >= H) continue;
        const dxRowOff = dxB + ih * dxRow;
        const wRowOff = kh * KW * CO;
        for (let ox = 0; ox < OW; ox++) {
          const dyOff = dyRowOff + ox * CO;
          const iw0 = ox * sW - left;
          for (let kw = 0; kw < KW; kw++) {
            const iw = iw0 + kw * dW;
            if (iw < 0 || iw >= W) continue;
            const dxOff = dxRowOff + iw * C;
            const wOff = wRowOff + kw * CO;
            if (M === 1) {
              for (let c = 0; c < C; c++) dx[dxOff + c] += dyV[dyOff + c]! * w[wOff + c]!;
            } else {
              for (let c = 0, cm = 0; c < C; c++) {
                let s = 0;
                for (let m = 0; m < M; m++, cm++) s += dyV[dyOff + cm]! * w[wOff + cm]!;
                dx[dxOff + c] += s;
              }
            }
          }
        }
      }
    }
  }
  return out;
}

export const depthwiseConv2dNativeBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dNativeBackpropInput as unknown as tf.KernelFunc,
};

import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { float32View, requireDtype, requireRank4, requireShape } from './wasmKernelUtil';

type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

/**
 * dx[b, ih, iw, c] = Σ dy[b, oy, ox, c·M + m] · w[kh, kw, c, m] over ih = oy·sH + kh·dH − top,
 * iw = ox·sW + kw·dW − left. Stride 1 goes through the wasm forward convolution (below); otherwise the
 * sum is scattered from each output pixel so the innermost loop walks channels, which are contiguous in
 * dx, dy and w alike. Unlike the cpu backend's version it honours dilations.
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

  if (sH === 1 && sW === 1) {
    const viaForward = backpropInputAsForwardConv(backend, dy, filter, info);
    if (viaForward) return viaForward;
  }

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
              for (let c = 0; c < C; c++) dx[dxOff + c]! += dyV[dyOff + c]! * w[wOff + c]!;
            } else {
              for (let c = 0, cm = 0; c < C; c++) {
                let s = 0;
                for (let m = 0; m < M; m++, cm++) s += dyV[dyOff + cm]! * w[wOff + cm]!;
                dx[dxOff + c]! += s;
              }
            }
          }
        }
      }
    }
  }
  return out;
}

/**
 * For stride 1, dx is the forward depthwise convolution of dy with the spatially flipped filter and the
 * complementary padding (effective kernel − 1 − pad on each side), which the wasm backend's XNNPACK kernel
 * runs several times faster than the loop above. Channel c·M + m of that convolution holds multiplier m's
 * share of dx[…, c]. Returns null when a complementary pad would be negative (a pad beyond effective
 * kernel − 1): the loop handles those.
 */
function backpropInputAsForwardConv(backend: BackendWasm, dy: tf.TensorInfo, filter: tf.TensorInfo, info: Conv2DInfo): tf.TensorInfo | null {
  const forward = tf.getKernel(tf.DepthwiseConv2dNative, 'wasm');
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outChannels: CO, outHeight: OH, outWidth: OW } = info;
  const { filterHeight: KH, filterWidth: KW, effectiveFilterHeight: EH, effectiveFilterWidth: EW } = info;
  const { top, left } = info.padInfo;
  // Bottom and right follow from the output size rather than padInfo: tfjs sizes numeric pads of
  // non-square filters by the filter height (a tfjs quirk the cpu kernels and dy follow).
  const pads = [EH - 1 - top, H - OH + top, EW - 1 - left, W - OW + left] as const;
  if (forward == null || pads.some((p) => p < 0)) return null;

  const flipped = backend.makeOutput([KH, KW, CO, 1], 'float32');
  const w = float32View(backend, filter);
  const wf = float32View(backend, flipped);
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      const src = ((KH - 1 - kh) * KW + (KW - 1 - kw)) * CO;
      wf.set(w.subarray(src, src + CO), (kh * KW + kw) * CO);
    }
  }
  const attrs = {
    strides: [1, 1],
    dilations: [info.dilationHeight, info.dilationWidth],
    pad: [[0, 0], [pads[0], pads[1]], [pads[2], pads[3]], [0, 0]],
  } as unknown as tf.NamedAttrMap;
  const full = forward.kernelFunc({ inputs: { x: dy, filter: flipped }, backend, attrs }) as tf.TensorInfo;
  backend.disposeData(flipped.dataId);
  if (full.shape.join() !== [B, H, W, CO].join()) {
    backend.disposeData(full.dataId);
    return null;
  }
  const M = CO / C;
  if (M === 1) return full;

  const out = backend.makeOutput(info.inShape, 'float32');
  const dx = float32View(backend, out);
  const fullV = float32View(backend, full);
  for (let p = 0, q = 0, i = 0, n = B * H * W; p < n; p++) {
    for (let c = 0; c < C; c++, i++) {
      let s = 0;
      for (let m = 0; m < M; m++, q++) s += fullV[q]!;
      dx[i] = s;
    }
  }
  backend.disposeData(full.dataId);
  return out;
}

export const depthwiseConv2dNativeBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dNativeBackpropInput as unknown as tf.KernelFunc,
};

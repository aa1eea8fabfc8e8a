"""PyTorch peer for `npm run bench`: torchvision ResNet18 and MobileNetV2 at 224 px, the very networks Loupe times.

    python3 bench/torch_peer.py --export DIR
        builds both models (weights=None, seeded, BatchNorm statistics from random calibration batches so that
        activations stay well scaled), and writes per model, to DIR:
          <name>.onnx             torch.onnx.export (opset 17, eval mode: BatchNorm folded into the convolutions)
          <name>.pt               the state_dict, so that the timing run uses the same weights
          <name>.input.npy        [1,3,224,224] seeded input (ImageNet-normalised uniform noise)
          <name>.logits.npy       [1,1000] PyTorch's logits for it
          <name>.grad_input.npy   d logits[0,t] / d input, t = argmax, computed in float64
        and prints one JSON object {"torch", "torchvision", "models": {name: {"target", "seconds", "bytes",
        "gradientNoise"}}}, gradientNoise being the relative error of PyTorch's own float32 gradient against the
        float64 one: how precisely float32 arithmetic can give this network's gradient at all. Random-weight
        MobileNetV2 is ill-conditioned there (~1e-2: a handful of ReLU6 kinks flip under rounding, on channels
        that BatchNorm amplifies ~100x), ResNet18 is not (~1e-6); the bench's check scales its tolerance by it.

    python3 bench/torch_peer.py --model resnet18 --weights DIR [--threads 2] [--reps 5] [--heavy-reps 3] [--batch 50]
        times that model (weights from DIR/<name>.pt) on the CPU as a PyTorch user would, weights frozen
        (only the input gradient is computed, as in Loupe), and prints one JSON object.

SmoothGrad-50 and IG-50 run their 50 inputs in batches of --batch (default 50: one batch, as Captum does
with its default internal batch size); Grad-CAM reads layer4 (ResNet18) / features[-1] (MobileNetV2) through
a forward hook that makes the layer's output a leaf, so the backward pass stops there.
"""
import argparse
import copy
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
SIZE = 224

# name: (builder, seed, the module Grad-CAM reads)
MODELS = {
    'resnet18': (torchvision.models.resnet18, 100, lambda m: m.layer4),
    'mobilenet_v2': (torchvision.models.mobilenet_v2, 101, lambda m: m.features[-1]),
}


def imagenet_input(n, gen):
    return (torch.rand(n, 3, SIZE, SIZE, generator=gen) - IMAGENET_MEAN) / IMAGENET_STD


def calibrate_batchnorm(model, gen):
    """Running statistics from random batches (cumulative average), then random affine parameters."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(imagenet_input(8, gen))
        for bn in bns:
            c = bn.num_features
            bn.weight.copy_(torch.empty(c).uniform_(0.6, 1.6, generator=gen))
            bn.bias.copy_(0.2 * torch.randn(c, generator=gen))
            bn.momentum = 0.1
    model.eval()


def build(name):
    builder, _, _ = MODELS[name]
    model = builder(weights=None).eval()
    for p in model.parameters():
        p.requires_grad_(False)  # Loupe computes only d/dinput: so does the peer
    return model


def input_gradient(model, inp, target):
    inp = inp.detach().requires_grad_(True)
    logits = model(inp)
    grad, = torch.autograd.grad(logits[:, target].sum(), inp)
    return grad


def save_npy(path, tensor):
    np.save(path, np.ascontiguousarray(tensor.detach().numpy().astype(np.float32)))


def export(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    result = {'torch': torch.__version__, 'torchvision': torchvision.__version__, 'models': {}}
    for name, (_, seed, _) in MODELS.items():
        torch.manual_seed(seed)
        model = build(name)
        gen = torch.Generator().manual_seed(seed + 100)
        calibrate_batchnorm(model, gen)
        x = imagenet_input(1, gen)
        path = os.path.join(out_dir, f'{name}.onnx')
        t0 = time.perf_counter()
        torch.onnx.export(model, x, path, opset_version=17, input_names=['input'], output_names=['logits'])
        seconds = time.perf_counter() - t0
        torch.save(model.state_dict(), os.path.join(out_dir, f'{name}.pt'))
        with torch.no_grad():
            logits = model(x)
        target = int(logits[0].argmax())
        save_npy(os.path.join(out_dir, f'{name}.input.npy'), x)
        save_npy(os.path.join(out_dir, f'{name}.logits.npy'), logits)
        grad32 = input_gradient(model, x, target)
        grad64 = input_gradient(copy.deepcopy(model).double(), x.double(), target)
        noise = float((grad32.double() - grad64).norm() / grad64.norm())
        save_npy(os.path.join(out_dir, f'{name}.grad_input.npy'), grad64)
        result['models'][name] = {'target': target, 'seconds': seconds, 'bytes': os.path.getsize(path), 'gradientNoise': noise}
        print(f'torch export {name}: {seconds:.1f} s, {os.path.getsize(path) / 1e6:.1f} MB', file=sys.stderr)
    return result


def timed(label, fn, reps):
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    ms = statistics.median(times)
    print(f'torch {label}: {ms:.1f} ms', file=sys.stderr)
    return ms


def measure(args):
    torch.set_num_threads(args.threads)
    name = args.model
    model = build(name)
    model.load_state_dict(torch.load(os.path.join(args.weights, f'{name}.pt'), map_location='cpu', weights_only=True))
    x = torch.from_numpy(np.load(os.path.join(args.weights, f'{name}.input.npy')))
    reference = torch.from_numpy(np.load(os.path.join(args.weights, f'{name}.logits.npy')))
    with torch.no_grad():
        logits = model(x)
    # The loaded weights must be the exported ones: else the peer would time another network.
    check = float((logits - reference).norm() / reference.norm())
    target = int(logits[0].argmax())
    n, batch = args.samples, args.batch
    gen = torch.Generator().manual_seed(7)

    def forward():
        with torch.no_grad():
            model(x)

    def mean_gradient(make_batch):
        total = torch.zeros_like(x)
        for start in range(0, n, batch):
            count = min(batch, n - start)
            total += input_gradient(model, make_batch(start, count), target).sum(dim=0, keepdim=True)
        return total / n

    def smoothgrad():
        sigma = 0.15 * float(x.max() - x.min())
        mean_gradient(lambda _s, count: x + sigma * torch.randn(count, *x.shape[1:], generator=gen))

    def integrated_gradients():
        baseline = torch.zeros_like(x)
        alphas = (torch.arange(n, dtype=torch.float32) + 0.5) / n  # Riemann midpoint

        def make_batch(start, count):
            return baseline + alphas[start:start + count].view(-1, 1, 1, 1) * (x - baseline)

        (x - baseline) * mean_gradient(make_batch)

    layer = MODELS[name][2](model)
    captured = {}

    def leaf_output(_module, _inputs, output):
        # Weights are frozen and the input needs no gradient: the layer's output becomes the leaf
        # the gradient is taken for, and the backward pass stops there.
        leaf = output.detach().requires_grad_(True)
        captured['activation'] = leaf
        return leaf

    def gradcam():
        handle = layer.register_forward_hook(leaf_output)
        try:
            out = model(x)
        finally:
            handle.remove()
        a = captured.pop('activation')
        grad, = torch.autograd.grad(out[0, target], a)
        cam = F.relu((grad.mean(dim=(2, 3), keepdim=True) * a).sum(dim=1, keepdim=True))
        F.interpolate(cam, size=(SIZE, SIZE), mode='bilinear', align_corners=False)

    result = {
        'model': name,
        'torch': torch.__version__,
        'torchvision': torchvision.__version__,
        'threads': torch.get_num_threads(),
        'batch': batch,
        'reps': args.reps,
        'heavyReps': args.heavy_reps,
        'params': sum(p.numel() for p in model.parameters()),
        'logitsRelError': check,
        'ms': {
            'forward': timed(f'{name} forward', forward, args.reps),
            'gradient': timed(f'{name} gradient', lambda: input_gradient(model, x, target), args.reps),
            'smoothgrad50': timed(f'{name} smoothgrad50', smoothgrad, args.heavy_reps),
            'ig50': timed(f'{name} ig50', integrated_gradients, args.heavy_reps),
            'gradcam': timed(f'{name} gradcam', gradcam, args.reps),
        },
    }
    try:
        import resource
        result['peakRssMB'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    except ImportError:
        pass
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--export', metavar='DIR', help='export both models (ONNX, state_dict, reference .npy) to DIR')
    parser.add_argument('--model', choices=sorted(MODELS), help='time this model')
    parser.add_argument('--weights', metavar='DIR', help='where --export wrote the models')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--reps', type=int, default=5, help='repetitions for forward/gradient/Grad-CAM')
    parser.add_argument('--heavy-reps', type=int, default=3, help='repetitions for SmoothGrad-50 / IG-50')
    parser.add_argument('--samples', type=int, default=50)
    parser.add_argument('--batch', type=int, default=50, help='noisy samples / IG steps per batch')
    args = parser.parse_args()
    if args.export:
        torch.set_num_threads(args.threads)
        result = export(args.export)
    elif args.model and args.weights:
        result = measure(args)
    else:
        parser.error('give --export DIR, or --model NAME --weights DIR')
    json.dump(result, sys.stdout)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()

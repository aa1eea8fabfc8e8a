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

    python3 bench/torch_peer.py --featurevis [--steps 512] [--threads 2]
        Lucid's feature visualisation recipe as Lucent writes it in PyTorch, on torchvision's MobileNetV2 (seeded
        random weights, frozen): a 128 px Fourier image (init N(0, 0.01), 1/f scale, irfft 'ortho', /4), Lucid's
        decorrelated colour, sigmoid, standard_transforms (pad 12 constant 0.5, jitter 8, random scale, random
        rotate, jitter 4), bilinear upsampling to 224 (align_corners, as Lucent), ImageNet normalisation, the mean
        of one channel of features[8].conv[0] (Keras' block_7_expand_relu, 14×14×384) maximised by Adam (lr 0.05).
        Prints ms per step: total, parameterisation + transforms forward, model forward, backward (model and
        parameterisation: autograd runs them as one), Adam. Lucent has no redirected ReLU: neither has the peer.

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


COLOR_SVD_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])


def featurevis(args):
    """Lucent's render_vis with its defaults (param.image fft + decorrelate, standard_transforms), timed per step."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(101)
    model = build('mobilenet_v2')
    calibrate_batchnorm(model, torch.Generator().manual_seed(201))
    for p in model.parameters():
        p.requires_grad_(False)
    layer = model.features[8].conv[0]  # expand conv + BN + ReLU6 of the 8th block: 384 channels at 14×14
    captured = {}
    layer.register_forward_hook(lambda _m, _i, out: captured.__setitem__('acts', out))

    size, channels, batch, decay = 128, 3, 1, 1.0
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.fftfreq(size)[: size // 2 + 1]
    freqs = np.sqrt(fx * fx + fy * fy)
    scale = torch.tensor(1.0 / np.maximum(freqs, 1.0 / size) ** decay * np.sqrt(size * size), dtype=torch.float32)[None, None, :, :, None]
    spectrum = (torch.randn(batch, channels, size, size // 2 + 1, 2) * 0.01).requires_grad_(True)
    color = COLOR_SVD_SQRT / COLOR_SVD_SQRT.norm(dim=0).max()

    def image():
        scaled = torch.view_as_complex(spectrum * scale)
        img = torch.fft.irfftn(scaled, s=(size, size), norm='ortho')[:batch, :channels, :size, :size] / 4
        img = torch.einsum('bchw,dc->bdhw', img, color)
        return torch.sigmoid(img)

    rng = np.random.default_rng(3)
    scales = [1 + (i - 5) / 50 for i in range(11)]
    angles = list(range(-10, 11)) + 5 * [0]

    def jitter(x, d):
        dx, dy = rng.integers(0, d + 1, size=2)
        return x[:, :, dy:dy + x.shape[2] - d, dx:dx + x.shape[3] - d]

    def transforms(x):
        x = F.pad(x, (12, 12, 12, 12), mode='constant', value=0.5)
        x = jitter(x, 8)
        s = float(rng.choice(scales))
        x = F.interpolate(x, scale_factor=(s, s), mode='bilinear', align_corners=False)
        a = np.deg2rad(float(rng.choice(angles)))
        theta = torch.tensor([[[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0]]], dtype=torch.float32)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode='bilinear', padding_mode='zeros', align_corners=False)
        x = jitter(x, 4)
        x = F.interpolate(x, size=(SIZE, SIZE), mode='bilinear', align_corners=True)
        return (x - IMAGENET_MEAN) / IMAGENET_STD

    optimizer = torch.optim.Adam([spectrum], lr=0.05)
    parts = {'parameterisation': 0.0, 'forward': 0.0, 'backward': 0.0, 'adam': 0.0}
    warm = 8
    started = 0.0
    values = []
    for step in range(warm + args.steps):
        if step == warm:
            parts = {k: 0.0 for k in parts}
            started = time.perf_counter()
        t0 = time.perf_counter()
        optimizer.zero_grad()
        x = transforms(image())
        t1 = time.perf_counter()
        model(x)
        loss = -captured.pop('acts')[:, 0].mean()
        t2 = time.perf_counter()
        loss.backward()
        t3 = time.perf_counter()
        optimizer.step()
        t4 = time.perf_counter()
        for k, dt in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            parts[k] += dt
        values.append(-float(loss))
    total = (time.perf_counter() - started) * 1000.0 / args.steps
    ms = {k: v * 1000.0 / args.steps for k, v in parts.items()}
    print(f'torch featurevis: {total:.1f} ms per step ({args.steps} steps after {warm} warm-up)', file=sys.stderr)
    return {
        'model': 'mobilenet_v2', 'layer': 'features.8.conv.0', 'steps': args.steps, 'size': size, 'inputSize': SIZE,
        'torch': torch.__version__, 'torchvision': torchvision.__version__, 'threads': torch.get_num_threads(),
        'msPerStep': {'total': total, **ms}, 'objective': {'first': values[warm], 'last': values[-1]},
    }


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
    parser.add_argument('--featurevis', action='store_true', help="time Lucid's feature visualisation recipe (Lucent)")
    parser.add_argument('--steps', type=int, default=512, help='feature visualisation steps to time')
    args = parser.parse_args()
    if args.featurevis:
        result = featurevis(args)
    elif args.export:
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

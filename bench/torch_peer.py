"""PyTorch peer for `npm run bench`: the same MobileNetV2 (width 1.0, random weights) and the same
measurements as Loupe's engine, on the CPU with a fixed thread count. Prints one JSON object.

Plain torch.nn (torchvision may be absent). Only the timings matter: the weights are random.
"""
import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# t, c, n, s (Sandler et al. 2018, table 2)
BLOCK_SETTINGS = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]


def conv_bn(cin, cout, kernel, stride, groups=1, relu=True):
    layers = [
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout, eps=1e-3),
    ]
    if relu:
        layers.append(nn.ReLU6())
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expansion):
        super().__init__()
        hidden = cin * expansion
        layers = []
        if expansion != 1:
            layers.append(conv_bn(cin, hidden, 1, 1))
        layers.append(conv_bn(hidden, hidden, 3, stride, groups=hidden))
        layers.append(conv_bn(hidden, cout, 1, 1, relu=False))
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.body(x)
        return x + y if self.residual else y


class MobileNetV2(nn.Module):
    def __init__(self, classes=1000):
        super().__init__()
        blocks = [conv_bn(3, 32, 3, 2)]
        cin = 32
        for t, c, n, s in BLOCK_SETTINGS:
            for i in range(n):
                blocks.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        blocks.append(conv_bn(cin, 1280, 1, 1))
        self.features = nn.Sequential(*blocks)
        self.classifier = nn.Linear(1280, classes)

    def forward(self, x):
        return self.classifier(self.features(x).mean(dim=(2, 3)))


def timed(name, fn, reps):
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    ms = statistics.median(times)
    print(f'torch {name}: {ms:.1f} ms', file=sys.stderr)
    return ms


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--classes', type=int, default=1000)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--reps', type=int, default=5, help='repetitions for forward/gradient/Grad-CAM')
    parser.add_argument('--heavy-reps', type=int, default=3, help='repetitions for SmoothGrad-50 / IG-50')
    parser.add_argument('--samples', type=int, default=50)
    parser.add_argument('--max-batch', type=int, default=50, help='noisy samples / IG steps per batch')
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = MobileNetV2(args.classes).eval()
    for p in model.parameters():
        p.requires_grad_(False)  # only d/dinput is wanted, as in Loupe
    x = torch.rand(1, 3, args.size, args.size) * 2 - 1
    with torch.no_grad():
        target = int(model(x).argmax(dim=1))
    n = args.samples

    def forward():
        with torch.no_grad():
            model(x)

    def input_gradient(inp):
        inp = inp.detach().requires_grad_(True)
        logits = model(inp)
        grad, = torch.autograd.grad(logits[:, target].sum(), inp)
        return grad

    def gradient():
        input_gradient(x)

    def batched_mean_gradient(make_batch):
        total = torch.zeros_like(x)
        for start in range(0, n, args.max_batch):
            count = min(args.max_batch, n - start)
            total += input_gradient(make_batch(start, count)).sum(dim=0, keepdim=True)
        return total / n

    def smoothgrad():
        sigma = 0.15 * float(x.max() - x.min())
        batched_mean_gradient(lambda _s, count: x + sigma * torch.randn(count, *x.shape[1:]))

    def integrated_gradients():
        baseline = torch.zeros_like(x)
        alphas = (torch.arange(n, dtype=torch.float32) + 0.5) / n  # Riemann midpoint

        def batch(start, count):
            a = alphas[start:start + count].view(-1, 1, 1, 1)
            return baseline + a * (x - baseline)

        (x - baseline) * batched_mean_gradient(batch)

    def gradcam():
        # d logit / dA only needs the head: A is a leaf, the backbone runs without a graph.
        with torch.no_grad():
            a = model.features(x)
        a.requires_grad_(True)
        logits = model.classifier(a.mean(dim=(2, 3)))
        grad, = torch.autograd.grad(logits[0, target], a)
        cam = F.relu((grad.mean(dim=(2, 3), keepdim=True) * a).sum(dim=1, keepdim=True))
        F.interpolate(cam, size=(args.size, args.size), mode='bilinear', align_corners=False)

    # Parameters are frozen, but activations feeding d/dinput still need autograd: enable it globally.
    torch.set_grad_enabled(True)
    result = {
        'available': True,
        'torch': torch.__version__,
        'threads': torch.get_num_threads(),
        # Counted like Keras: BN moving mean/variance included (PyTorch keeps them as buffers).
        'params': sum(v.numel() for k, v in model.state_dict().items() if not k.endswith('num_batches_tracked')),
        'inputSize': args.size,
        'maxBatch': args.max_batch,
        'reps': args.reps,
        'heavyReps': args.heavy_reps,
        'ms': {
            'forward': timed('forward', forward, args.reps),
            'gradient': timed('gradient', gradient, args.reps),
            'smoothgrad50': timed('smoothgrad50', smoothgrad, args.heavy_reps),
            'ig50': timed('ig50', integrated_gradients, args.heavy_reps),
            'gradcam': timed('gradcam', gradcam, args.reps),
        },
    }
    try:
        import resource
        result['peakRssMB'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    except ImportError:
        pass
    json.dump(result, sys.stdout)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()

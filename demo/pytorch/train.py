"""Train a small ResNet-style classifier on the demo "shapes" images and export it to ONNX.

    npx tsx demo/pytorch/export-data.ts /tmp/shapes-data      # the images, as .npy
    python3 demo/pytorch/train.py /tmp/shapes-data             # writes checkpoint.pt and model.onnx here

Images are 64x64 RGB fed in [-1, 1] (pixel / 127.5 - 1), like demo/shapes/train.ts.
"""
import argparse
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CLASSES = ["circle", "square", "triangle", "cross"]


class Block(nn.Module):
    """Two 3x3 convs with a shortcut; one ReLU module used after each."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ShapesNet(nn.Module):
    def __init__(self, num_classes=len(CLASSES)):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2, padding=1, bias=False),  # 32x32
            nn.BatchNorm2d(16),
            nn.ReLU(),
        )
        self.layer1 = Block(16, 24, stride=2)  # 16x16
        self.layer2 = Block(24, 32)
        self.layer3 = Block(32, 48, stride=2)  # 8x8
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(48, num_classes),
        )

    def forward(self, x):
        x = self.stem(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return self.head(x)


def load(data_dir, split):
    images = np.load(os.path.join(data_dir, f"{split}_images.npy"))  # N, H, W, 3 uint8
    labels = np.load(os.path.join(data_dir, f"{split}_labels.npy"))
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
    return x, torch.from_numpy(labels)


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        predicted = torch.cat([model(batch).argmax(1) for batch in x.split(256)])
    return (predicted == y).float().mean().item()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("data", help="folder written by export-data.ts")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    data_dir = os.path.abspath(args.data)
    os.chdir(os.path.dirname(os.path.abspath(__file__)))  # outputs go next to this script

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    train_x, train_y = load(data_dir, "train")
    val_x, val_y = load(data_dir, "val")

    model = ShapesNet()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps = args.epochs * ((len(train_x) + 63) // 64)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=steps)
    start = time.time()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(train_x))
        total = 0.0
        for i in range(0, len(order), 64):
            idx = order[i:i + 64]
            x, y = train_x[idx], train_y[idx]
            if torch.rand(()) < 0.5:
                x = x.flip(3)  # a mirrored shape keeps its class
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(idx)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total / len(train_x):.4f} "
              f"val acc {accuracy(model, val_x, val_y):.4f} ({time.time() - start:.0f} s)")

    print(f"held-out accuracy ({len(val_x)} images): {100 * accuracy(model, val_x, val_y):.2f} %")
    torch.save(model.state_dict(), "checkpoint.pt")

    model.eval()
    example = val_x[:1]
    torch.onnx.export(model, example, "model.onnx", opset_version=17,
                      input_names=["image"], output_names=["logits"])
    print("wrote checkpoint.pt and model.onnx")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""train_digits.py — trains onyx's bundled default model and exports it to ONNX.

The model is a small CNN for scikit-learn's handwritten digits (load_digits: 1797
8x8 grey images, 10 classes). It exists so that `make demo` has a real, trained model
with a known accuracy to run, without downloading anything: the data ships inside
python3-sklearn. Everything is seeded and single-threaded, so a rerun gives the same
weights and the same split.

Writes, into the output directory (default models/):
  digits_cnn.onnx      opset 13, input "input" float32 [batch,1,8,8], output "logits" [batch,10]
  digits_test_x.npy    float32 [N,1,8,8], the held-out 30% split, scaled as in training
  digits_test_y.npy    int64 [N], its labels

Usage: /usr/bin/python3 scripts/train_digits.py [--out models] [--epochs 60]
"""
import argparse
import os
import random

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 0


class DigitsCNN(nn.Module):
    """Conv-BN-ReLU x2 with a max-pool after each, then two fully connected layers.

    Only ops every runtime supports in its foundation come out of the export:
    Conv, BatchNormalization (folded into Conv by the exporter in eval mode), Relu,
    MaxPool, Flatten, Gemm.
    """

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.MaxPool2d(2),                                   # 8x8 -> 4x4
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2),                                   # 4x4 -> 2x2
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(32 * 2 * 2, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def load_split():
    digits = load_digits()
    # Pixels are integers 0..16; scale to [0, 1].
    x = (digits.images.astype(np.float32) / 16.0)[:, None, :, :]
    y = digits.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.3, stratify=y, random_state=SEED)


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(x)).argmax(dim=1).numpy()
    return float((pred == y).mean()), int((pred == y).sum())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="models")
    ap.add_argument("--epochs", type=int, default=60)
    args = ap.parse_args()

    torch.manual_seed(SEED)
    np.random.seed(SEED)
    random.seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    x_train, x_test, y_train, y_test = load_split()
    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    gen = torch.Generator().manual_seed(SEED)
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), 32):
            idx = perm[i:i + 32]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        sched.step()
        if (epoch + 1) % 10 == 0:
            acc, _ = accuracy(model, x_test, y_test)
            print(f"epoch {epoch + 1:3d}  loss {loss.item():.4f}  test accuracy {acc * 100:.2f}%")

    acc, correct = accuracy(model, x_test, y_test)
    print(f"final test accuracy (PyTorch): {acc * 100:.2f}% ({correct}/{len(y_test)})")

    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "digits_cnn.onnx")
    model.eval()
    torch.onnx.export(
        model, torch.zeros(1, 1, 8, 8), onnx_path, opset_version=13,
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        do_constant_folding=False,
        # PRESERVE keeps BatchNormalization as its own node (EVAL would fold it into the
        # Conv weights), so the model also exercises the BN kernel and the optimizer.
        training=torch.onnx.TrainingMode.PRESERVE)
    np.save(os.path.join(args.out, "digits_test_x.npy"), np.ascontiguousarray(x_test, dtype=np.float32))
    np.save(os.path.join(args.out, "digits_test_y.npy"), y_test.astype(np.int64))

    # onnx 1.12 has no reference evaluator; validate the graph and list its ops.
    import onnx
    m = onnx.load(onnx_path)
    onnx.checker.check_model(m)
    ops = sorted({n.op_type for n in m.graph.node})
    print(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes), ops: {', '.join(ops)}")
    print(f"wrote digits_test_x.npy {x_test.shape} and digits_test_y.npy {y_test.shape}")


if __name__ == "__main__":
    main()

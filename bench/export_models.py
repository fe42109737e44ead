#!/usr/bin/python3
"""export_models.py — writes onyx's standard benchmark models as ONNX, with random weights.

The benchmark and the output comparison against ONNX Runtime need the usual models
(ResNet-50, MobileNetV2, a BERT-base encoder) but nothing may be downloaded, and
torchvision / transformers are not packaged in Debian. So the architectures are written
out here, faithfully to torchvision's resnet50 / mobilenet_v2 and to BERT-base, and
exported from Debian's python3-torch with seeded random weights. Speed and numerics do
not depend on trained weights, but they do depend on activations staying in a sane
range, so the BatchNorm running statistics are calibrated on random images (one forward
pass in training mode) before the export folds them into the convolutions, just as an
export of a trained torchvision model does.

Writes into --out (default bench/out/models/):
  resnet50.onnx      input "input" float32 [batch,3,224,224] -> "logits" [batch,1000]
  mobilenetv2.onnx   input "input" float32 [batch,3,224,224] -> "logits" [batch,1000]
  bert_base.onnx     inputs "input_ids", "attention_mask" int64 [batch,sequence] (bench: 1x128)
                     -> "last_hidden_state" [batch,sequence,768], "pooler_output" [batch,768]
  digits_cnn.onnx    copy of models/digits_cnn.onnx (the bundled trained model)
  NAME.inputs.json   how to make a benchmark input for each model (shape, dtype, value range);
                     compare_outputs.py reads it.

Usage: /usr/bin/python3 bench/export_models.py [--out DIR] [--only resnet50,bert_base,...]
"""
import argparse
import inspect
import json
import math
import os
import shutil
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SEED = 0
OPSET = 13
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --- ResNet-50 (torchvision resnet50, "v1.5": stride on the 3x3 conv) ---------------------
class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet50(nn.Module):
    def __init__(self, layers=(3, 4, 6, 3), num_classes=1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], stride=2)
        self.layer3 = self._make_layer(256, layers[2], stride=2)
        self.layer4 = self._make_layer(512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * 4, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _make_layer(self, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * 4:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * 4, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * 4))
        layers = [Bottleneck(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * 4
        layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# --- MobileNetV2 (torchvision mobilenet_v2, width 1.0) ----------------------------------
def make_divisible(v, divisor=8):
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def conv_bn_relu6(inp, oup, kernel, stride, groups=1):
    return nn.Sequential(
        nn.Conv2d(inp, oup, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(oup), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = [conv_bn_relu6(inp, hidden, 1, 1)] if expand_ratio != 1 else []
        layers += [conv_bn_relu6(hidden, hidden, 3, stride, groups=hidden),   # depthwise
                   nn.Conv2d(hidden, oup, 1, bias=False), nn.BatchNorm2d(oup)]  # linear bottleneck
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    SETTINGS = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2],
                [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]  # t, c, n, s

    def __init__(self, num_classes=1000):
        super().__init__()
        inp, last = 32, 1280
        features = [conv_bn_relu6(3, inp, 3, 2)]
        for t, c, n, s in self.SETTINGS:
            oup = make_divisible(c)
            for i in range(n):
                features.append(InvertedResidual(inp, oup, s if i == 0 else 1, t))
                inp = oup
        features.append(conv_bn_relu6(inp, last, 1, 1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


# --- BERT-base encoder (bert-base-uncased shapes) ---------------------------------------
class BertConfig:
    vocab = 30522
    hidden = 768
    layers = 12
    heads = 12
    ffn = 3072
    max_positions = 512
    type_vocab = 2
    eps = 1e-12


class BertEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab, c.hidden)
        self.position_embeddings = nn.Embedding(c.max_positions, c.hidden)
        self.token_type_embeddings = nn.Embedding(c.type_vocab, c.hidden)
        self.LayerNorm = nn.LayerNorm(c.hidden, eps=c.eps)
        self.register_buffer("position_ids", torch.arange(c.max_positions).unsqueeze(0))

    def forward(self, input_ids):
        seq = input_ids.size(1)
        pos = self.position_ids[:, :seq]
        token_type = torch.zeros_like(input_ids)
        x = (self.word_embeddings(input_ids) + self.position_embeddings(pos)
             + self.token_type_embeddings(token_type))
        return self.LayerNorm(x)


class BertSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads, self.head_dim = c.heads, c.hidden // c.heads
        self.query = nn.Linear(c.hidden, c.hidden)
        self.key = nn.Linear(c.hidden, c.hidden)
        self.value = nn.Linear(c.hidden, c.hidden)

    def split_heads(self, x):
        x = x.view(x.size()[:-1] + (self.heads, self.head_dim))
        return x.permute(0, 2, 1, 3)

    def forward(self, x, mask_bias):
        q = self.split_heads(self.query(x))
        k = self.split_heads(self.key(x))
        v = self.split_heads(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim) + mask_bias
        ctx = torch.matmul(torch.softmax(scores, dim=-1), v).permute(0, 2, 1, 3).contiguous()
        return ctx.view(ctx.size()[:-2] + (self.heads * self.head_dim,))


class BertLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = BertSelfAttention(c)
        self.attention_output = nn.Linear(c.hidden, c.hidden)
        self.attention_norm = nn.LayerNorm(c.hidden, eps=c.eps)
        self.intermediate = nn.Linear(c.hidden, c.ffn)
        self.output = nn.Linear(c.ffn, c.hidden)
        self.output_norm = nn.LayerNorm(c.hidden, eps=c.eps)

    def forward(self, x, mask_bias):
        x = self.attention_norm(x + self.attention_output(self.attention(x, mask_bias)))
        h = F.gelu(self.intermediate(x))  # exact (erf) GELU, as in BERT
        return self.output_norm(x + self.output(h))


class BertEncoderModel(nn.Module):
    def __init__(self, c=BertConfig()):
        super().__init__()
        self.embeddings = BertEmbeddings(c)
        self.layers = nn.ModuleList([BertLayer(c) for _ in range(c.layers)])
        self.pooler = nn.Linear(c.hidden, c.hidden)
        for m in self.modules():  # BERT's initializer: N(0, 0.02), zero biases
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, input_ids, attention_mask):
        # [batch, seq] 1/0 -> additive bias [batch, 1, 1, seq]: 0 to attend, -10000 to mask.
        mask_bias = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * -10000.0
        x = self.embeddings(input_ids)
        for layer in self.layers:
            x = layer(x, mask_bias)
        pooled = torch.tanh(self.pooler(x[:, 0]))
        return x, pooled


# --- export ------------------------------------------------------------------------------
def calibrate_bn(model, shape, batches=2):
    """Sets BatchNorm running stats from random images so activations stay O(1)."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randn(*shape))
    model.eval()


def export(model, args, path, input_names, output_names, dynamic_axes):
    model.eval()
    extra = {}
    # torch >= 2.5 may default to the dynamo exporter (other opsets, other
    # graphs); the TorchScript exporter gives the same graphs as Debian's 1.13.
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        extra["dynamo"] = False
    torch.onnx.export(model, args, path, opset_version=OPSET, input_names=input_names,
                      output_names=output_names, dynamic_axes=dynamic_axes,
                      do_constant_folding=True, **extra)


def image_spec():
    return {"input": {"dtype": "float32", "shape": [1, 3, 224, 224], "dist": "normal"}}


def make_resnet50(path):
    model = ResNet50()
    calibrate_bn(model, (4, 3, 224, 224))
    export(model, torch.randn(1, 3, 224, 224), path, ["input"], ["logits"],
           {"input": {0: "batch"}, "logits": {0: "batch"}})
    return image_spec()


def make_mobilenetv2(path):
    model = MobileNetV2()
    calibrate_bn(model, (4, 3, 224, 224))
    export(model, torch.randn(1, 3, 224, 224), path, ["input"], ["logits"],
           {"input": {0: "batch"}, "logits": {0: "batch"}})
    return image_spec()


def make_bert_base(path):
    model = BertEncoderModel()
    ids = torch.randint(0, BertConfig.vocab, (1, 128))
    mask = torch.ones(1, 128, dtype=torch.int64)
    seq_axes = {0: "batch", 1: "sequence"}
    export(model, (ids, mask), path, ["input_ids", "attention_mask"],
           ["last_hidden_state", "pooler_output"],
           {"input_ids": seq_axes, "attention_mask": seq_axes,
            "last_hidden_state": seq_axes, "pooler_output": {0: "batch"}})
    return {
        "input_ids": {"dtype": "int64", "shape": [1, 128], "dist": "randint",
                      "low": 0, "high": BertConfig.vocab},
        # 1 for real tokens, 0 for the padding at the end (the last 16 positions).
        "attention_mask": {"dtype": "int64", "shape": [1, 128], "dist": "mask", "valid": 112},
    }


def make_digits_cnn(path):
    shutil.copyfile(os.path.join(REPO, "models", "digits_cnn.onnx"), path)
    return {"input": {"dtype": "float32", "shape": [16, 1, 8, 8], "dist": "uniform",
                      "low": 0.0, "high": 1.0}}


MODELS = {
    "resnet50": make_resnet50,
    "mobilenetv2": make_mobilenetv2,
    "bert_base": make_bert_base,
    "digits_cnn": make_digits_cnn,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "out", "models"))
    ap.add_argument("--only", default="", help="comma-separated subset of " + ",".join(MODELS))
    args = ap.parse_args()
    names = [n for n in args.only.split(",") if n] or list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(MODELS)}")

    torch.set_num_threads(os.cpu_count() or 1)
    os.makedirs(args.out, exist_ok=True)
    import onnx
    for name in names:
        torch.manual_seed(SEED)
        t0 = time.time()
        path = os.path.join(args.out, name + ".onnx")
        spec = MODELS[name](path)
        with open(os.path.join(args.out, name + ".inputs.json"), "w") as f:
            json.dump(spec, f, indent=1)
        m = onnx.load(path)
        onnx.checker.check_model(path)
        ops = sorted({n.op_type for n in m.graph.node})
        print(f"{name}: {path} {os.path.getsize(path) / 1e6:.1f} MB, {len(m.graph.node)} nodes, "
              f"{time.time() - t0:.1f} s; ops: {' '.join(ops)}", flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Converts a Hugging Face checkpoint directory that ships only PyTorch pickles
(pytorch_model.bin, or pytorch_model-0000i-of-0000n.bin + its index) into
model.safetensors beside them, so that qrobust (which reads safetensors and
GGUF, never pickles) can load it. Some checkpoints of the study are published
that way, e.g. Salesforce/codegen-350M-mono and codegen-2B-mono.

Usage:  ${QROBUST_VENV:-tools/.venv}/bin/python tools/bin_to_safetensors.py DIR [--max-shard-gb 4]

Tensors are written exactly as stored (dtype and values unchanged; non-
parameter buffers such as CodeGen's causal_mask are kept, qrobust ignores
them). The pickles are loaded with torch.load(weights_only=True), which refuses
arbitrary code. Large checkpoints are sharded with a model.safetensors.index.json.
Nothing is deleted; an existing model.safetensors is never overwritten.
"""
import argparse
import glob
import json
import os
import sys

import torch
from safetensors.torch import save_file


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--max-shard-gb", type=float, default=4.0)
    a = ap.parse_args()
    bins = sorted(glob.glob(os.path.join(a.dir, "pytorch_model*.bin")))
    if not bins:
        sys.exit(f"{a.dir}: no pytorch_model*.bin")
    if glob.glob(os.path.join(a.dir, "model*.safetensors")):
        sys.exit(f"{a.dir}: model*.safetensors already present; not overwriting")
    state = {}
    for b in bins:
        sd = torch.load(b, map_location="cpu", weights_only=True)
        for k, v in sd.items():
            if k in state:
                sys.exit(f"{b}: tensor {k} appears twice")
            state[k] = v.contiguous().clone()  # clone: no storage shared between names
    limit = int(a.max_shard_gb * (1 << 30))
    shards, cur, size = [], {}, 0
    for k in sorted(state):
        n = state[k].numel() * state[k].element_size()
        if cur and size + n > limit:
            shards.append(cur)
            cur, size = {}, 0
        cur[k] = state[k]
        size += n
    shards.append(cur)
    if len(shards) == 1:
        save_file(shards[0], os.path.join(a.dir, "model.safetensors"), metadata={"format": "pt"})
        print(f"wrote {a.dir}/model.safetensors ({len(state)} tensors)")
        return
    weight_map, total = {}, 0
    for i, sh in enumerate(shards):
        name = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file(sh, os.path.join(a.dir, name), metadata={"format": "pt"})
        for k, v in sh.items():
            weight_map[k] = name
            total += v.numel() * v.element_size()
        print("wrote", name)
    with open(os.path.join(a.dir, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the small seed inputs of the libFuzzer targets under fuzz/seeds/
(safetensors files made with the safetensors library, a tiny LLaMA GGUF built
byte by byte from the GGUF v3 layout, config.json copies of the fixtures).
Run with the venv's python: QROBUST_VENV=/work/venv; $QROBUST_VENV/bin/python tools/make_fuzz_seeds.py
"""
import os
import shutil
import struct

import numpy as np
from safetensors.numpy import save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
S = os.path.join(ROOT, "fuzz", "seeds")


def safetensors_seeds():
    d = os.path.join(S, "safetensors")
    os.makedirs(d, exist_ok=True)
    save_file({"a": np.arange(6, dtype=np.float32).reshape(2, 3)}, f"{d}/f32.safetensors", metadata={"format": "pt"})
    save_file({"w": np.ones((4, 2), np.float16), "i": np.arange(5, dtype=np.int8), "e": np.zeros((0,), np.float32)},
              f"{d}/mixed.safetensors")
    save_file({"model.norm.weight": np.ones(8, np.float32),
               "model.embed_tokens.weight": np.linspace(-1, 1, 128, dtype=np.float32).reshape(16, 8)},
              f"{d}/names.safetensors")


def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf_seed():
    """A 1-layer LLaMA (dim 8, 2 heads, ffn 12, vocab 4) with llama.cpp key names."""
    dim, ffn, vocab = 8, 12, 4
    kv = [
        ("general.architecture", 8, gguf_string("llama")),
        ("llama.embedding_length", 4, struct.pack("<I", dim)),
        ("llama.block_count", 4, struct.pack("<I", 1)),
        ("llama.feed_forward_length", 4, struct.pack("<I", ffn)),
        ("llama.attention.head_count", 4, struct.pack("<I", 2)),
        ("llama.attention.head_count_kv", 4, struct.pack("<I", 1)),
        ("llama.context_length", 4, struct.pack("<I", 32)),
        ("llama.rope.freq_base", 6, struct.pack("<f", 10000.0)),
        ("llama.attention.layer_norm_rms_epsilon", 6, struct.pack("<f", 1e-5)),
        ("tokenizer.ggml.model", 8, gguf_string("llama")),
        ("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, vocab) + b"".join(gguf_string(t) for t in ["<unk>", "<s>", "</s>", "a"])),
        ("tokenizer.ggml.scores", 9, struct.pack("<IQ", 6, vocab) + struct.pack("<4f", 0, 0, 0, -1)),
        ("tokenizer.ggml.bos_token_id", 4, struct.pack("<I", 1)),
        ("tokenizer.ggml.eos_token_id", 4, struct.pack("<I", 2)),
    ]
    tensors = [("token_embd.weight", [dim, vocab]), ("output_norm.weight", [dim]),
               ("blk.0.attn_norm.weight", [dim]), ("blk.0.attn_q.weight", [dim, dim]),
               ("blk.0.attn_k.weight", [dim, 4]), ("blk.0.attn_v.weight", [dim, 4]),
               ("blk.0.attn_output.weight", [dim, dim]), ("blk.0.ffn_norm.weight", [dim]),
               ("blk.0.ffn_gate.weight", [dim, ffn]), ("blk.0.ffn_up.weight", [dim, ffn]),
               ("blk.0.ffn_down.weight", [ffn, dim])]
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv))
    for k, t, v in kv:
        out += gguf_string(k) + struct.pack("<I", t) + v
    off, data = 0, b""
    for name, ne in tensors:
        n = int(np.prod(ne))
        out += gguf_string(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", x) for x in ne)
        out += struct.pack("<IQ", 0, off)
        blob = np.linspace(-0.5, 0.5, n, dtype=np.float32).tobytes()
        blob += b"\0" * ((-len(blob)) % 32)
        data += blob
        off += len(blob)
    out += b"\0" * ((-len(out)) % 32)
    d = os.path.join(S, "gguf")
    os.makedirs(d, exist_ok=True)
    open(f"{d}/tiny-llama.gguf", "wb").write(out + data)


def config_seeds():
    d = os.path.join(S, "config")
    os.makedirs(d, exist_ok=True)
    fx = os.path.join(ROOT, "tests", "fixtures", "llama-tiny")
    for name in ["tied-f32", "untied-f32", "linear-f32"]:
        shutil.copy(os.path.join(fx, name, "config.json"), os.path.join(d, name + ".json"))


if __name__ == "__main__":
    safetensors_seeds()
    gguf_seed()
    config_seeds()

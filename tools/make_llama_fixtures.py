#!/usr/bin/env python3
"""Writes the tiny Hugging Face LLaMA fixtures under tests/fixtures/llama-tiny/
and the reference logits qrobust is checked against.

Run:  QROBUST_VENV=/work/venv tools/make_llama_fixtures.sh   (or this file with the venv's python)

Each fixture is a genuine HF checkpoint directory written by transformers'
save_pretrained (config.json + safetensors), random weights from a fixed seed:

  untied-f32/   GQA (4 heads / 2 KV heads), untied head, llama3 rope scaling,
                sharded (model-0000i-of-0000n.safetensors + index), the
                config.json transformers >= 5 writes ("rope_parameters").
  untied-bf16/  the same weights stored as bfloat16 (single file)
  untied-f16/   the same weights stored as float16 (single file)
  tied-f32/     tied embeddings, llama3 rope scaling written in the legacy
                form real Llama-3.2 checkpoints carry ("rope_theta" +
                "rope_scaling": {"rope_type": "llama3", ...}), attention_bias
  linear-f32/   linear rope scaling (factor 4, as DeepSeek-Coder), MHA

All weights are chosen exactly representable in bf16 AND f16 (rounded to
bf16, tiny magnitudes flushed), so the three untied copies hold identical
numbers: qrobust must give bit-identical logits and greedy tokens for them.

reference.json in each directory: the HF transformers forward pass (CPU,
float32, eager attention) of a fixed id sequence — logits at every position —
and 64 greedy tokens (argmax, full recompute each step, no EOS stop).
"""
import json
import os
import shutil
import sys

import torch
from transformers import LlamaConfig, LlamaForCausalLM

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "llama-tiny")

BASE = dict(
    vocab_size=256,
    hidden_size=64,
    intermediate_size=88,   # not a multiple of 64 nor of 8*... tails exercised
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=256,
    rms_norm_eps=1e-5,
    bos_token_id=1,
    eos_token_id=2,
)
LLAMA3 = dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
              original_max_position_embeddings=64)


def representable(t):
    """Rounds to bf16 and flushes |x| < 2^-14 so the value is exact in bf16, f16 and f32."""
    t = t.to(torch.bfloat16).to(torch.float32)
    t[t.abs() < 2.0 ** -14] = 0.0
    assert torch.equal(t.to(torch.float16).to(torch.float32), t)
    return t


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if p.ndim == 1:
                v = 1.0 + 0.2 * torch.randn(p.shape, generator=g) if "norm" in name else 0.1 * torch.randn(p.shape, generator=g)
            elif "embed" in name:
                v = torch.randn(p.shape, generator=g)
            else:
                v = torch.randn(p.shape, generator=g) / (p.shape[1] ** 0.5)
                if "lm_head" in name:
                    v *= 4
            p.copy_(representable(v))


def reference(d, ids, cls=LlamaForCausalLM):
    """transformers' logits at every position of ids and 64 greedy tokens (also
    used by make_family_fixtures.py with the other model classes)."""
    m = cls.from_pretrained(d, dtype=torch.float32, attn_implementation="eager")
    m.eval()
    with torch.no_grad():
        logits = m(torch.tensor([ids])).logits[0]
        seq = list(ids[:4])
        greedy = []
        for _ in range(64):
            nxt = int(m(torch.tensor([seq])).logits[0, -1].argmax())
            greedy.append(nxt)
            seq.append(nxt)
    return {
        "input_ids": ids,
        "logits": [[float(x) for x in row] for row in logits],
        "greedy_prompt": ids[:4],
        "greedy": greedy,
        "transformers": __import__("transformers").__version__,
        "torch": torch.__version__,
    }


def write(name, model, dtype=torch.float32, shard=None):
    d = os.path.join(ROOT, name)
    shutil.rmtree(d, ignore_errors=True)
    m = model.to(dtype)
    kw = {"max_shard_size": shard} if shard else {}
    m.save_pretrained(d, safe_serialization=True, **kw)
    model.to(torch.float32)
    # generation_config.json is not part of what qrobust reads
    gc = os.path.join(d, "generation_config.json")
    if os.path.exists(gc):
        os.remove(gc)
    return d


def legacy_rope(d):
    """Rewrites config.json's rope section the way pre-5.0 configs spell it."""
    p = os.path.join(d, "config.json")
    c = json.load(open(p))
    rp = c.pop("rope_parameters")
    c["rope_theta"] = rp.pop("rope_theta")
    c["rope_scaling"] = rp
    json.dump(c, open(p, "w"), indent=2, sort_keys=True)


def main():
    torch.manual_seed(0)
    os.makedirs(ROOT, exist_ok=True)
    ids = [1] + [int(x) for x in torch.randint(3, 256, (23,), generator=torch.Generator().manual_seed(7))]

    cfg = LlamaConfig(**BASE, tie_word_embeddings=False, rope_parameters=dict(rope_theta=10000.0, **LLAMA3))
    m = LlamaForCausalLM(cfg)
    randomize(m, 1)
    d = write("untied-f32", m, shard="150KB")
    ref = reference(d, ids)
    json.dump(ref, open(os.path.join(d, "reference.json"), "w"))
    write("untied-bf16", m, torch.bfloat16)
    write("untied-f16", m, torch.float16)

    cfg = LlamaConfig(**BASE, tie_word_embeddings=True, attention_bias=True,
                      rope_parameters=dict(rope_theta=500000.0, **LLAMA3))
    m = LlamaForCausalLM(cfg)
    randomize(m, 2)
    d = write("tied-f32", m)
    legacy_rope(d)
    json.dump(reference(d, ids), open(os.path.join(d, "reference.json"), "w"))

    base = dict(BASE, num_key_value_heads=4)
    cfg = LlamaConfig(**base, tie_word_embeddings=False,
                      rope_parameters=dict(rope_theta=100000.0, rope_type="linear", factor=4.0))
    m = LlamaForCausalLM(cfg)
    randomize(m, 3)
    d = write("linear-f32", m)
    json.dump(reference(d, ids), open(os.path.join(d, "reference.json"), "w"))
    print("wrote", ROOT)


if __name__ == "__main__":
    sys.exit(main())

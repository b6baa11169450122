#!/usr/bin/env python3
"""Writes tiny random Hugging Face checkpoints of the non-LLaMA families under
tests/fixtures/families/ and the reference logits qrobust is checked against.

Run:  QROBUST_VENV=/work/venv tools/make_family_fixtures.sh

Each directory is what transformers' save_pretrained writes for that model
class (config.json with the class's own keys + model.safetensors with the
exact tensor names and shapes), random weights from a fixed seed:

  codegen/            CodeGenForCausalLM: fused qkv_proj (mp_num = 4 layout),
                      partial GPT-J rotary (rotary_dim 8 of head_dim 12),
                      gelu_new, lm_head with bias; stored float16 like the
                      Salesforce checkpoints
  starcoder2/         Starcoder2ForCausalLM: GQA 4/2, LayerNorm with bias,
                      biases everywhere (use_bias), gelu_pytorch_tanh,
                      sliding_window 8 (shorter than the 24-token reference
                      sequence), rope_theta as starcoder2-3b, tied head
  starcoder2-untied/  use_bias false, tie_word_embeddings false, no window,
                      stored bfloat16
  qwen2/              Qwen2ForCausalLM: q/k/v biases (no o_proj bias), GQA
                      4/2, rope_theta 1e6, tied head, stored bfloat16

(LLaMA, DeepSeek-Coder's linear rope and LLaMA-3's llama3 rope are covered
by tools/make_llama_fixtures.py.)

reference.json in each directory: the HF forward pass (CPU, float32, eager
attention) of a fixed id sequence — logits at every position — and 64
greedy tokens (argmax, full recompute each step, no EOS stop).
"""
import json
import os
import shutil
import sys

import torch
from make_llama_fixtures import reference  # same reference.json format and procedure
from transformers import (CodeGenConfig, CodeGenForCausalLM, Qwen2Config, Qwen2ForCausalLM, Starcoder2Config,
                          Starcoder2ForCausalLM)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "families")
VOCAB = 320


def randomize(model, seed):
    """Weights of a size that keeps activations O(1) through a few layers."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if p.ndim == 1:
                if "norm" in name or "ln_" in name:
                    v = (1.0 + 0.2 * torch.randn(p.shape, generator=g)) if name.endswith("weight") else \
                        0.1 * torch.randn(p.shape, generator=g)
                else:
                    v = 0.1 * torch.randn(p.shape, generator=g)
            elif "embed" in name or "wte" in name:
                v = torch.randn(p.shape, generator=g)
            else:
                v = torch.randn(p.shape, generator=g) / (p.shape[1] ** 0.5)
                if "lm_head" in name:
                    v *= 4
            p.copy_(v)


def write(name, cls, cfg, seed, ids, dtype=torch.float32):
    d = os.path.join(ROOT, name)
    shutil.rmtree(d, ignore_errors=True)
    torch.manual_seed(seed)
    m = cls(cfg)
    randomize(m, seed)
    m.to(dtype).save_pretrained(d, safe_serialization=True)
    gc = os.path.join(d, "generation_config.json")  # not read by qrobust
    if os.path.exists(gc):
        os.remove(gc)
    json.dump(reference(d, ids, cls), open(os.path.join(d, "reference.json"), "w"))
    print("wrote", d)


def main():
    os.makedirs(ROOT, exist_ok=True)
    ids = [1] + [int(x) for x in torch.randint(3, VOCAB, (23,), generator=torch.Generator().manual_seed(7))]

    write("codegen", CodeGenForCausalLM,
          CodeGenConfig(vocab_size=VOCAB, n_positions=128, n_ctx=128, n_embd=96, n_layer=2, n_head=8,
                        rotary_dim=8, n_inner=None, activation_function="gelu_new", layer_norm_epsilon=1e-5,
                        bos_token_id=1, eos_token_id=2, tie_word_embeddings=False),
          seed=11, ids=ids, dtype=torch.float16)

    sc2 = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
               num_key_value_heads=2, hidden_act="gelu_pytorch_tanh", max_position_embeddings=128,
               norm_epsilon=1e-5, bos_token_id=1, eos_token_id=2)
    write("starcoder2", Starcoder2ForCausalLM,
          Starcoder2Config(**sc2, sliding_window=8, use_bias=True, tie_word_embeddings=True,
                           rope_parameters=dict(rope_type="default", rope_theta=999999.4420358813)),
          seed=12, ids=ids)
    write("starcoder2-untied", Starcoder2ForCausalLM,
          Starcoder2Config(**sc2, sliding_window=None, use_bias=False, tie_word_embeddings=False,
                           rope_parameters=dict(rope_type="default", rope_theta=100000.0)),
          seed=13, ids=ids, dtype=torch.bfloat16)

    write("qwen2", Qwen2ForCausalLM,
          Qwen2Config(vocab_size=VOCAB, hidden_size=64, intermediate_size=88, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-6,
                      tie_word_embeddings=True, use_sliding_window=False, bos_token_id=1, eos_token_id=2,
                      rope_parameters=dict(rope_type="default", rope_theta=1000000.0)),
          seed=14, ids=ids, dtype=torch.bfloat16)


if __name__ == "__main__":
    sys.exit(main())

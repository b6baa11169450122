#!/usr/bin/env python3
"""Writes the bitsandbytes reference fixtures under tests/fixtures/quant/.

Run:  QROBUST_VENV=/work/venv tools/quant_fixtures.sh
(needs torch, bitsandbytes, transformers, safetensors and accelerate).

Everything here is produced by the REAL bitsandbytes on its CPU backend, so
that tests/test_quant_bnb.c can check qrobust bit for bit:

  bnb_ref.safetensors   NF4 table, signed dynamic map; for several matrices the
                        NF4 + double-quant result (packed bytes, absmax codes,
                        nested absmax, offset), the dequantized weights, the
                        LLM.int8 weights + SCB; LLM.int8 activation
                        quantization with outliers; torch's float sums (the
                        double-quant offset is torch's absmax.mean()).
  tiny-llama/           a 2-layer random LLaMA saved by transformers (fp32),
  tiny-llama-nf4/       ... loaded with BitsAndBytesConfig(load_in_4bit, nf4,
                        double quant, compute fp32) and saved again,
  tiny-llama-int8/      ... loaded with load_in_8bit and saved again.

Random matrices come from a generator that tests/test_quant_bnb.c reproduces
exactly (splitmix64, sum of 12 uniforms - 6, all in exact double arithmetic),
so large inputs need not be stored.

Environment pinned for reproducibility: torch CPU capability AVX2 (the vector
width decides the order of torch's float sum) and one torch thread.
"""
import os
import sys

os.environ["ATEN_CPU_CAPABILITY"] = "avx2"
os.environ.setdefault("OMP_NUM_THREADS", "1")

import json  # noqa: E402
import shutil  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

import bitsandbytes as bnb  # noqa: E402
import bitsandbytes.functional as F  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "quant")
M64 = (1 << 64) - 1


def gen_matrix(seed, rows, cols, scale):
    """Same numbers as qr_test_gen() in tests/quant_testutil.h."""
    n = rows * cols
    k = np.arange(1, 12 * n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + k * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(11)).astype(np.float64) * (2.0 ** -53)
    u = u.reshape(n, 12)
    acc = np.zeros(n, dtype=np.float64)
    for j in range(12):  # sequential, as the C loop does
        acc = acc + u[:, j]
    g = (acc - 6.0) * scale
    return torch.from_numpy(g.astype(np.float32).reshape(rows, cols))


def nf4_case(t, name, W, store_input):
    """NF4 + double quant exactly as Params4bit does it, plus LLM.int8."""
    if store_input:
        t[f"{name}.input"] = W.clone()
    p = bnb.nn.Params4bit(W.clone(), requires_grad=False, quant_type="nf4", compress_statistics=True,
                          blocksize=64, quant_storage=torch.uint8)
    p = p._quantize("cpu")
    qs = p.quant_state
    t[f"{name}.nf4.packed"] = p.data.reshape(-1).clone()
    t[f"{name}.nf4.absmax_q"] = qs.absmax.clone()
    t[f"{name}.nf4.absmax2"] = qs.state2.absmax.clone()
    t[f"{name}.nf4.offset"] = qs.offset.reshape(1).clone()
    deq = F.dequantize_4bit(p.data, qs)
    t[f"{name}.nf4.deq"] = deq.clone() if store_input else deq.reshape(-1)[:4096].clone()
    # Single-level (no double quant) absmax, for the first stage alone.
    _, qs1 = F.quantize_4bit(W.clone(), blocksize=64, compress_statistics=False, quant_type="nf4")
    t[f"{name}.nf4.absmax_plain"] = qs1.absmax.clone()
    # LLM.int8 weights as Int8Params does it (fp16 first, then row-wise absmax).
    ip = bnb.nn.Int8Params(W.clone(), requires_grad=False, has_fp16_weights=False)
    ip = ip._quantize("cpu")
    t[f"{name}.int8.w"] = ip.CB.clone()
    t[f"{name}.int8.scb"] = ip.SCB.clone()


def special_matrix():
    """Hand-built rows: a zero block, exact ties at NF4 midpoints, negative
    extremes, tiny values, an fp16-overflowing value is avoided (int8 casts to fp16)."""
    code = F.get_4bit_type("nf4", device="cpu")
    mids = (code[:-1] + code[1:]) / 2  # what bitsandbytes compares against
    rows = []
    # Row 0: block 0 all zeros, block 1 = ties exactly at the midpoints with absmax 1.
    r = torch.zeros(128)
    r[64] = 1.0
    r[65:65 + 15] = mids
    r[80:80 + 15] = -mids.flip(0)
    rows.append(r)
    # Row 1: ties with a non-unit absmax (x * (1/absmax) lands near, not on, a midpoint).
    r = torch.zeros(128)
    r[0] = -3.0
    r[1:16] = mids * 3.0
    r[64:128] = torch.linspace(-1.0, 1.0, 64) * 0.3
    rows.append(r)
    # Row 2: tiny magnitudes (subnormal-adjacent) and one large value.
    r = torch.linspace(-1e-30, 1e-30, 128)
    r[100] = 250.0
    rows.append(r)
    # Row 3: all zeros (int8 SCB 0, NF4 absmax 0).
    rows.append(torch.zeros(128))
    return torch.stack(rows).float()


def torch_sums(t):
    """torch's float sum, which bitsandbytes' double quant uses via absmax.mean()."""
    lens = [1, 7, 8, 31, 32, 33, 100, 255, 1000, 4097, 40000, 70001]
    sums1, sums2, means1 = [], [], []
    for i, n in enumerate(lens):
        x = gen_matrix(1000 + i, 1, n, 0.01).reshape(-1).abs()
        torch.set_num_threads(1)
        sums1.append(x.sum().item())
        means1.append(x.mean().item())
        torch.set_num_threads(2)
        sums2.append(x.sum().item())
        torch.set_num_threads(1)
    t["torchsum.lens"] = torch.tensor(lens, dtype=torch.int64)
    t["torchsum.sum_t1"] = torch.tensor(sums1, dtype=torch.float32)
    t["torchsum.sum_t2"] = torch.tensor(sums2, dtype=torch.float32)
    t["torchsum.mean_t1"] = torch.tensor(means1, dtype=torch.float32)


def int8_activation_cases(t):
    # Activations with outliers: a few columns carry |x| >= 6 in some rows.
    x = gen_matrix(77, 5, 200, 1.0)
    x[0, 3] = 7.5
    x[2, 3] = -0.25
    x[4, 150] = -6.0  # exactly the threshold counts as an outlier (>=)
    x[1, 199] = 5.99
    x[3, :] = 0.0
    x[3, 150] = 9.0   # a row whose only large value is an outlier
    t["act.x"] = x.clone()
    ca, sca, cols = F.int8_vectorwise_quant(x.to(torch.float16), threshold=6.0)
    t["act.t6.ca"] = ca.clone()
    t["act.t6.sca"] = sca.clone()
    t["act.t6.cols"] = cols.clone()
    ca0, sca0, _ = F.int8_vectorwise_quant(x.to(torch.float16), threshold=0.0)
    t["act.t0.ca"] = ca0.clone()
    t["act.t0.sca"] = sca0.clone()
    # Single row (decode): outlier elements are zeroed by the quantizer itself.
    x1 = x[0:1].clone()
    ca1, sca1, cols1 = F.int8_vectorwise_quant(x1.to(torch.float16), threshold=6.0)
    t["act.row0.ca"] = ca1.clone()
    t["act.row0.sca"] = sca1.clone()
    t["act.row0.cols"] = cols1.clone()


def tiny_llama():
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(1234)
    cfg = LlamaConfig(vocab_size=96, hidden_size=64, intermediate_size=176, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                      tie_word_embeddings=False, rms_norm_eps=1e-5, rope_theta=10000.0,
                      bos_token_id=1, eos_token_id=2)
    model = LlamaForCausalLM(cfg)
    # A few larger weights so that int8 rows and NF4 blocks are not all alike.
    with torch.no_grad():
        model.model.layers[0].mlp.down_proj.weight[3, 5] = 0.9
        model.model.layers[1].self_attn.o_proj.weight[:, 7] *= 8.0
    base = os.path.join(OUT, "tiny-llama")
    shutil.rmtree(base, ignore_errors=True)
    model.save_pretrained(base)
    configs = {
        "nf4": BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                  bnb_4bit_compute_dtype=torch.float32),
        "int8": BitsAndBytesConfig(load_in_8bit=True),
    }
    for name, qc in configs.items():
        q = AutoModelForCausalLM.from_pretrained(base, quantization_config=qc)
        d = base + "-" + name
        shutil.rmtree(d, ignore_errors=True)
        q.save_pretrained(d)
        for f in os.listdir(d):
            if f not in ("config.json", "model.safetensors"):
                os.remove(os.path.join(d, f))
    for f in os.listdir(base):
        if f not in ("config.json", "model.safetensors"):
            os.remove(os.path.join(base, f))
    reference_logits(base)


REF_IDS = [1, 17, 5, 88, 40, 3, 61, 29, 9, 73, 50, 12, 91, 44, 2, 36]


def reference_logits(base):
    """Logits at every position of REF_IDS:
      fp32:  the float32 model;
      nf4:   the float32 model with each block linear weight replaced by
             bitsandbytes' own dequantization of its NF4 + double-quant form
             (what bnb computes with bnb_4bit_compute_dtype=float32 on its
             dequantize-then-linear path);
      int8:  transformers' LLM.int8 model run on bitsandbytes' CPU backend
             (int32 product computed in float32, outlier columns in the
             activation dtype, dequantization constant 6.200124e-05).
    """
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    ids = torch.tensor([REF_IDS])
    out = {"input_ids": REF_IDS}
    m = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32, attn_implementation="eager").eval()
    with torch.no_grad():
        out["fp32"] = m(ids).logits[0].tolist()
        from bitsandbytes.backends.default.ops import _dequantize_4bit_compute
        for name, mod in m.named_modules():
            if isinstance(mod, torch.nn.Linear) and ".layers." in name:
                p = bnb.nn.Params4bit(mod.weight.data.clone(), requires_grad=False, quant_type="nf4",
                                      compress_statistics=True, blocksize=64)._quantize("cpu")
                qs = p.quant_state
                absmax = F.dequantize_blockwise(qs.absmax, qs.state2) + qs.offset
                # bitsandbytes' torch implementation of dequantize_4bit. (Its AVX-512
                # C++ kernel, which F.dequantize_4bit picks on this CPU, indexes the
                # block scales by row and gets them wrong when in_features is not a
                # multiple of 64, as for down_proj here.)
                w = _dequantize_4bit_compute(p.data.reshape(-1), absmax, qs.code, 64, tuple(mod.weight.shape),
                                             torch.float32)
                mod.weight.data = w.reshape(mod.weight.shape)
        out["nf4"] = m(ids).logits[0].tolist()
    q = AutoModelForCausalLM.from_pretrained(base, quantization_config=BitsAndBytesConfig(load_in_8bit=True),
                                             dtype=torch.float32, attn_implementation="eager").eval()
    with torch.no_grad():
        out["int8"] = q(ids).logits[0].tolist()
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(out, f)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    t = {}
    t["nf4_code"] = F.get_4bit_type("nf4", device="cpu").clone()
    t["dynamic_map"] = F.create_dynamic_map(signed=True).clone()
    meta = {"bitsandbytes": bnb.__version__, "torch": torch.__version__,
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability()}
    # name: (seed, rows, cols, scale, store_input)
    cases = {
        "small": (1, 16, 64, 0.02, True),        # 16 blocks, one nested block
        "odd": (2, 7, 9, 1.0, True),             # 63 elements: partial NF4 block, odd count
        "tail": (3, 33, 70, 0.05, True),         # 2310 elements: 36 blocks + a 6-element tail
        "multi": (4, 160, 200, 0.02, False),     # 500 blocks: two nested blocks, the last partial
        "large": (5, 384, 704, 0.01, False),     # 4224 blocks: 17 nested blocks
    }
    for name, (seed, rows, cols, scale, store) in cases.items():
        W = gen_matrix(seed, rows, cols, scale)
        nf4_case(t, name, W, store)
        meta[f"case.{name}"] = json.dumps({"seed": seed, "rows": rows, "cols": cols, "scale": scale})
    nf4_case(t, "special", special_matrix(), True)
    meta["case.special"] = json.dumps({"rows": 4, "cols": 128})
    torch_sums(t)
    int8_activation_cases(t)
    t = {k: v.contiguous() for k, v in t.items()}
    save_file(t, os.path.join(OUT, "bnb_ref.safetensors"), metadata=meta)
    tiny_llama()
    print("wrote", OUT, file=sys.stderr)


if __name__ == "__main__":
    main()

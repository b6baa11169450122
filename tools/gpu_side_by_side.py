#!/usr/bin/env python3
"""GPU side by side (issue 9): the seed stack (HF transformers + bitsandbytes)
vs qrobust --device cuda, batch-1 greedy decode on the SAME random-weight
checkpoint, in bf16, LLM.int8 and NF4 (double quant, fp32 compute: the study's
settings). Run on the GPU machine, in the same session as `make CUDA=1
bench-cuda`, and report qrobust's speed as a ratio to the seed stack.

    QROBUST_VENV=/path/to/venv tools/gpu_side_by_side.sh   (or run this file with that python)
    python tools/gpu_side_by_side.py --preset deepseek-coder-1.3b-base --qrobust build-cuda/qrobust

The config is taken verbatim from runtime/presets.c (the published
config.json), the weights are seeded random (std 0.02), written once as a bf16
safetensors checkpoint under --workdir, and both stacks load that directory.
Nothing is downloaded; the bitsandbytes wheel must already be installed (carry
it over from PyPI: `pip download bitsandbytes` on a machine with internet).

Output: one JSON line per (stack, precision) with tokens/s, then the ratios.
NOT YET RUN: written without a GPU (see kernels/cuda/README.md).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time


def preset_config(name, root):
    """The config.json text of a preset, parsed out of runtime/presets.c."""
    src = open(os.path.join(root, "runtime", "presets.c"), encoding="utf-8").read()
    m = re.search(r'\{"%s",\s*"[^"]*",\s*"[^"]*",\s*\d+LL,\s*((?:"(?:[^"\\]|\\.)*"\s*)+)\}' % re.escape(name), src)
    if not m:
        sys.exit(f"preset {name!r} not found in runtime/presets.c")
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1))
    return json.loads("".join(p.encode().decode("unicode_escape") for p in parts))


def write_checkpoint(cfg, out, seed):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    if os.path.exists(os.path.join(out, "config.json")):
        return
    torch.manual_seed(seed)
    conf = LlamaConfig(**{k: v for k, v in cfg.items() if k not in ("architectures", "torch_dtype")})
    with torch.device("cuda"):
        model = LlamaForCausalLM(conf).to(torch.bfloat16)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.02)
    model.save_pretrained(out, safe_serialization=True)
    del model
    torch.cuda.empty_cache()


def hf_decode(path, precision, prompt_len, new_tokens):
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    kw = {"torch_dtype": torch.bfloat16, "device_map": "cuda"}
    if precision == "int8":
        kw["quantization_config"] = BitsAndBytesConfig(load_in_8bit=True)
    elif precision == "nf4":
        kw["quantization_config"] = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                       bnb_4bit_use_double_quant=True,
                                                       bnb_4bit_compute_dtype=torch.float32)
    model = AutoModelForCausalLM.from_pretrained(path, **kw).eval()
    ids = torch.arange(1, prompt_len + 1, device="cuda").unsqueeze(0) % model.config.vocab_size
    gen = dict(do_sample=False, min_new_tokens=new_tokens, max_new_tokens=new_tokens, pad_token_id=0)
    with torch.no_grad():
        model.generate(ids, **dict(gen, min_new_tokens=8, max_new_tokens=8))  # warm-up
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        pre = model(ids)  # prefill alone, subtracted below
        torch.cuda.synchronize()
        t_pre = time.perf_counter() - t0
        t0 = time.perf_counter()
        model.generate(ids, **gen)
        torch.cuda.synchronize()
        t = time.perf_counter() - t0 - t_pre
    del model, pre
    torch.cuda.empty_cache()
    return new_tokens / t


def qrobust_decode(qbin, path, precision, prompt_len, new_tokens):
    ids = " ".join(str(i) for i in range(1, prompt_len + 1))
    prec = {"bf16": "bf16", "int8": "int8", "nf4": "nf4"}[precision]
    cmd = [qbin, "generate", "--model", path, "--ids", ids, "--max-new-tokens", str(new_tokens), "--ignore-eos",
           "--temperature", "0", "--stats", "--device", "cuda", "--precision", prec]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"qrobust failed: {r.stderr.strip()}")
    # --stats: "... <n> tokens in <t> s (<x> tok/s) ..." for prefill then decode; take the last tok/s.
    rates = re.findall(r"([0-9.]+) tok(?:ens)?/s", r.stderr)
    if not rates:
        sys.exit(f"no tok/s in qrobust --stats output: {r.stderr.strip()}")
    return float(rates[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", action="append", help="runtime/presets.c name (default: deepseek-coder-1.3b-base "
                    "and llama-3.1-8b)")
    ap.add_argument("--qrobust", default="build-cuda/qrobust")
    ap.add_argument("--workdir", default="/tmp/qrobust-sbs")
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    import torch

    print(json.dumps({"gpu": torch.cuda.get_device_name(0), "date": time.strftime("%Y-%m-%d")}))
    for name in a.preset or ["deepseek-coder-1.3b-base", "llama-3.1-8b"]:
        path = os.path.join(a.workdir, name)
        write_checkpoint(preset_config(name, root), path, a.seed)
        for prec in ("bf16", "int8", "nf4"):
            hf = hf_decode(path, prec, a.prompt_len, a.new_tokens)
            qr = qrobust_decode(a.qrobust, path, prec, a.prompt_len, a.new_tokens)
            print(json.dumps({"model": name, "precision": prec, "hf_bnb_tok_s": round(hf, 2),
                              "qrobust_tok_s": round(qr, 2), "ratio": round(qr / hf, 2)}), flush=True)


if __name__ == "__main__":
    main()

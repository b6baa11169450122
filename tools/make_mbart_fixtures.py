#!/usr/bin/env python3
"""Writes the tiny mBART-50 fixtures under tests/fixtures/mbart/ and the
reference outputs qrobust's mBART engine (attacks/mbart.h) and its SentencePiece
unigram tokenizer (tokenizer/tok_unigram.h) are checked against.

Run:  QROBUST_VENV=/work/venv tools/make_mbart_fixtures.sh   (or this file with the venv's python)

What it writes (all from fixed seeds; transformers, tokenizers, sentencepiece, CPU, float32):

  tiny/          a genuine HF MBartForConditionalGeneration checkpoint directory as
                 facebook/mbart-large-50-many-to-many-mmt lays it out: config.json,
                 generation_config.json, model.safetensors (save_pretrained) and
                 sentencepiece.bpe.model, a SentencePiece UNIGRAM model trained here
                 on MBPP descriptions plus a few German sentences, with the default
                 nmt_nfkc normalization (the precompiled charsmap the real mBART model
                 carries). d_model 32, 2+2 layers, 4 heads, gelu, scale_embedding,
                 beam search 5 beams, max_length 24, early_stopping true.
  tiny-relu/     a second, smaller checkpoint stored in bfloat16: relu (what the real
                 mbart-large-50 MMT config uses), no embedding scale, 1+1 layers,
                 generation defaults only in config.json (the legacy layout of the hub
                 checkpoint: no generation_config.json), early_stopping false,
                 length_penalty 0.7.
  tokenizer.json.gz  the same tokenizer as transformers 5 saves it (tokenizer.json),
                 gzipped, to test the tokenizer.json loader.
  tiny/reference.json, tiny-relu/reference.json, tokenizer_ref.json: see below.

The HF tokenizer is MBart50Tokenizer.from_pretrained on the directory holding
sentencepiece.bpe.model, i.e. transformers' own SentencePiece -> fast conversion
(the sentencepiece package's protobuf module is bypassed for transformers' bundled
one when the installed protobuf runtime is too old for it; the conversion code is
transformers' own either way).
"""
import gzip
import json
import os
import shutil
import sys
import tempfile

import torch

import transformers.convert_slow_tokenizer as cst

try:  # sentencepiece's generated module needs a recent protobuf runtime
    from sentencepiece import sentencepiece_model_pb2  # noqa: F401
except Exception:
    from transformers.utils import sentencepiece_model_pb2_new as _pb2

    cst.import_protobuf = lambda *a, **k: _pb2

import sentencepiece as spm
from transformers import GenerationConfig, MBart50Tokenizer, MBartConfig, MBartForConditionalGeneration

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.join(HERE, "..")
ROOT = os.path.join(REPO, "tests", "fixtures", "mbart")

GERMAN = [
    "Schreiben Sie eine Funktion, die die Summe einer Liste berechnet.",
    "Die Funktion gibt eine neue Liste mit allen geraden Zahlen zurück.",
    "Finden Sie das größte Element in einem Wörterbuch.",
    "Prüfen Sie, ob die gegebene Zeichenkette ein Palindrom ist.",
    "Zählen Sie die Vokale in einem Satz und geben Sie die Anzahl zurück.",
    "Die Katze schläft auf dem Sofa, während der Hund im Garten spielt.",
    "Größe und Länge der Straße sind unbekannt.",
    "Entfernen Sie alle Leerzeichen aus der Zeichenkette.",
    "Sortieren Sie die Liste der Tupel nach dem zweiten Element.",
    "Berechnen Sie die Fläche eines Dreiecks aus seinen drei Seiten.",
    "Wandeln Sie eine Dezimalzahl in eine Binärzahl um.",
    "Geben Sie die Anzahl der eindeutigen Wörter in einem Text zurück.",
    "Übersetzen Sie den Satz ins Englische und wieder zurück.",
    "Ein Quadrat hat vier gleich lange Seiten.",
    "Die Funktion soll die Fakultät einer ganzen Zahl berechnen.",
    "Verbinden Sie zwei sortierte Listen zu einer sortierten Liste.",
]


def read_jsonl_gz(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def mbpp_plus_descriptions():
    """The description line of every MBPP+ prompt (the text the sentence attack translates)."""
    out = []
    for r in read_jsonl_gz(os.path.join(REPO, "data", "MbppPlus.jsonl.gz")):
        lines = r["prompt"].split("\n")
        out.append(lines[1])
    return out


def train_spm(workdir):
    mbpp = [r["text"] for r in read_jsonl_gz(os.path.join(REPO, "data", "mbpp.jsonl.gz"))]
    train = os.path.join(workdir, "train.txt")
    with open(train, "w", encoding="utf-8") as f:
        for t in mbpp[:500] + GERMAN * 4:
            f.write(t.replace("\r", " ").replace("\n", " ") + "\n")
    spm.SentencePieceTrainer.train(
        input=train, model_prefix=os.path.join(workdir, "m"), vocab_size=500, model_type="unigram",
        num_threads=1, shuffle_input_sentence=False, input_sentence_size=0, seed_sentencepiece_size=100000,
        minloglevel=2)
    return os.path.join(workdir, "m.model")


def randomize(model, seed, std, eos_bias):
    """Every parameter random (HF initializes biases to 0 and norms to 1: those would hide bugs)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("layer_norm.weight") or name.endswith("layernorm_embedding.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif p.dim() == 1:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(std * torch.randn(p.shape, generator=g))
        # final_logits_bias is a buffer: structure the output distribution a bit, and
        # make </s> likely enough that hypotheses end at different lengths.
        b = 0.5 * torch.randn(model.final_logits_bias.shape, generator=g)
        b[0, 2] += eos_bias
        model.final_logits_bias.copy_(b)


def floats(t):
    return [float(x) for x in t.detach().to(torch.float32).reshape(-1).tolist()]


def model_reference(model, tok, enc_ids, dec_prefix, gen_cases):
    """Encoder output, decoder logits at every prefix position, beam search outputs."""
    model.eval()
    ref = {}
    with torch.no_grad():
        ids = torch.tensor([enc_ids])
        enc = model.get_encoder()(input_ids=ids).last_hidden_state
        out = model(input_ids=ids, decoder_input_ids=torch.tensor([dec_prefix]))
        ref["encoder"] = {"input_ids": enc_ids, "hidden": floats(enc[0])}
        ref["decoder"] = {"decoder_input_ids": dec_prefix, "logits": [floats(r) for r in out.logits[0]]}
        ref["generate"] = []
        for case in gen_cases:
            kw = dict(case.get("kwargs", {}))
            o = model.generate(torch.tensor([case["input_ids"]]), forced_bos_token_id=case["forced_bos"], **kw)
            ref["generate"].append({"input_ids": case["input_ids"], "forced_bos": case["forced_bos"],
                                    "kwargs": kw, "output": o[0].tolist()})
    return ref


def main():
    if os.path.isdir(ROOT):
        for sub in ("tiny", "tiny-relu"):
            shutil.rmtree(os.path.join(ROOT, sub), ignore_errors=True)
    os.makedirs(ROOT, exist_ok=True)
    # A fixed work directory: the trainer records its input path in the model file,
    # so a fixed path makes the fixtures regenerate byte for byte.
    work = os.path.join(tempfile.gettempdir(), "qrobust-mbart-fixtures")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    tokdir = os.path.join(work, "tok")
    os.makedirs(tokdir)
    shutil.copy(train_spm(work), os.path.join(tokdir, "sentencepiece.bpe.model"))
    tok = MBart50Tokenizer.from_pretrained(tokdir, src_lang="en_XX")
    V = len(tok)
    en, de = tok.lang_code_to_id["en_XX"], tok.lang_code_to_id["de_DE"]
    print("vocab", V, "en_XX", en, "de_DE", de, file=sys.stderr)
    tok.save_pretrained(os.path.join(work, "saved"))
    with open(os.path.join(work, "saved", "tokenizer.json"), "rb") as f, \
            gzip.GzipFile(os.path.join(ROOT, "tokenizer.json.gz"), "wb", mtime=0) as g:
        g.write(f.read())

    # ---- tokenizer reference ----
    descs = mbpp_plus_descriptions()
    edge = [
        "", " ", "Hello  world", "  leading and trailing  ", "tab\tand\nnewline\r\nend",
        "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３", "ﬁle ﬂow ① ㎏ ½", "cafe\u0301 na\u0131ve e\u0301\u0301",
        "Emoji 😀👍🏽 and 🇩🇪 flags", "中文字符和日本語", "A <mask> token, en_XX and de_DE in text</s>!",
        "x<s>y<pad>z<unk>", "Größe und Länge der Straße", "Don't stop: it's 3.14 (approx.)",
        "\u00a0nbsp\u2003em\u3000ideographic", "zero\u200bwidth\u200djoiner", "각 각 Hangul",
        "    Return the sum of a and b.\n    >>> add(1, 2)", "e\u0301\u0301\u0301\u0301x",
    ]
    cases = []
    for i, t in enumerate(descs[:120] + edge + GERMAN[:4]):
        src = "de_DE" if t in GERMAN else "en_XX"
        tok.src_lang = src
        cases.append({"text": t, "src": src, "ids": tok(t).input_ids})
    tok.src_lang = "en_XX"
    g = torch.Generator().manual_seed(7)
    dec = []
    for n in (1, 5, 12, 30):
        ids = torch.randint(0, V, (n,), generator=g).tolist()
        dec.append({"ids": ids, "text": tok.decode(ids, skip_special_tokens=True),
                    "text_special": tok.decode(ids, skip_special_tokens=False)})
    for c in cases[:20] + cases[120:]:
        dec.append({"ids": c["ids"], "text": tok.decode(c["ids"], skip_special_tokens=True),
                    "text_special": tok.decode(c["ids"], skip_special_tokens=False)})
    # The normalizer transformers 4 wrote into converted tokenizer.json files
    # (SpmConverter: Strip(right) and runs of spaces -> "\u2581"): qrobust reads it
    # from a tokenizer.json; the ids come from the tokenizers library itself.
    from tokenizers import Tokenizer as RawTokenizer
    with open(os.path.join(work, "saved", "tokenizer.json"), encoding="utf-8") as f:
        tj = json.load(f)
    tj["normalizer"]["normalizers"] = [tj["normalizer"]["normalizers"][0],
                                       {"type": "Strip", "strip_left": False, "strip_right": True},
                                       {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": "\u2581"}]
    raw = RawTokenizer.from_str(json.dumps(tj))
    v4 = []
    for t in edge + [d + "  " for d in descs[:5]] + ["Two  spaces  and a trailing tab\t", "  lead"]:
        v4.append({"text": t, "src": "en_XX", "ids": raw.encode(t).ids})
    with open(os.path.join(ROOT, "tokenizer_ref.json"), "w", encoding="utf-8") as f:
        json.dump({"source": "transformers MBart50Tokenizer %s" % __import__("transformers").__version__,
                   "vocab_size": V, "encode": cases, "decode": dec, "legacy_normalizer": tj["normalizer"],
                   "encode_legacy": v4}, f, ensure_ascii=False, indent=0)

    texts = [descs[0], descs[5], descs[17], "Write a python function to reverse a string."]
    enc_ids = [tok(t).input_ids for t in texts]

    # ---- tiny: gelu, scaled embeddings, f32, generation_config.json ----
    torch.manual_seed(0)
    cfg = MBartConfig(
        vocab_size=V, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
        decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
        activation_function="gelu", scale_embedding=True, pad_token_id=1, bos_token_id=0, eos_token_id=2,
        decoder_start_token_id=2, forced_eos_token_id=2, tie_word_embeddings=True, dropout=0.0)
    model = MBartForConditionalGeneration(cfg)
    randomize(model, 1, 0.2, 2.2)
    model.generation_config = GenerationConfig(
        num_beams=5, max_length=24, early_stopping=True, decoder_start_token_id=2, eos_token_id=2,
        forced_eos_token_id=2, pad_token_id=1, bos_token_id=0)
    d = os.path.join(ROOT, "tiny")
    model.save_pretrained(d)
    shutil.copy(os.path.join(tokdir, "sentencepiece.bpe.model"), d)
    model = MBartForConditionalGeneration.from_pretrained(d, dtype=torch.float32, attn_implementation="eager")
    gen = [{"input_ids": ids, "forced_bos": de} for ids in enc_ids]
    gen.append({"input_ids": enc_ids[0], "forced_bos": en, "kwargs": {"num_beams": 1}})
    gen.append({"input_ids": enc_ids[1], "forced_bos": de, "kwargs": {"max_length": 8}})
    # A grid over the stopping rules and length penalties: finished hypotheses of
    # different lengths compete, and the early-stop heuristic ends some searches.
    for ids in enc_ids:
        for es in (True, False, "never"):
            for lp in (1.0, 0.5, 2.0, -0.5):
                for nb in (2, 4):
                    gen.append({"input_ids": ids, "forced_bos": de,
                                "kwargs": {"num_beams": nb, "early_stopping": es, "length_penalty": lp}})
    ref = model_reference(model, tok, enc_ids[0], [2, de, 100, 37, 250, 2, 9], gen)
    # Back-translation round trip through the HF tokenizer and model.
    rt = []
    for t in texts[:2]:
        tok.src_lang = "en_XX"
        o = model.generate(torch.tensor([tok(t).input_ids]), forced_bos_token_id=de)
        de_text = tok.decode(o[0], skip_special_tokens=True)
        tok.src_lang = "de_DE"
        o2 = model.generate(torch.tensor([tok(de_text).input_ids]), forced_bos_token_id=en)
        rt.append({"en": t, "de_ids": o[0].tolist(), "de": de_text, "en_ids": o2[0].tolist(),
                   "back": tok.decode(o2[0], skip_special_tokens=True)})
    tok.src_lang = "en_XX"
    ref["roundtrip"] = rt
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(ref, f)

    # ---- tiny-relu: relu, unscaled, bf16 on disk, generation keys in config.json ----
    torch.manual_seed(0)
    cfg2 = MBartConfig(
        vocab_size=V, d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=24, decoder_ffn_dim=24, max_position_embeddings=40,
        activation_function="relu", scale_embedding=False, pad_token_id=1, bos_token_id=0, eos_token_id=2,
        decoder_start_token_id=2, forced_eos_token_id=2, tie_word_embeddings=True, dropout=0.0)
    m2 = MBartForConditionalGeneration(cfg2)
    randomize(m2, 2, 0.4, 3.5)
    d2 = os.path.join(ROOT, "tiny-relu")
    m2.to(torch.bfloat16).save_pretrained(d2)
    if os.path.exists(os.path.join(d2, "generation_config.json")):
        os.remove(os.path.join(d2, "generation_config.json"))
    with open(os.path.join(d2, "config.json")) as f:
        c = json.load(f)
    legacy = {"num_beams": 3, "max_length": 12, "early_stopping": False, "length_penalty": 0.7}
    c.update(legacy)
    with open(os.path.join(d2, "config.json"), "w") as f:
        json.dump(c, f, indent=2)
    m2 = MBartForConditionalGeneration.from_pretrained(d2, dtype=torch.float32, attn_implementation="eager")
    # The legacy keys are passed explicitly: qrobust reads them from config.json when
    # there is no generation_config.json (as transformers 4 did).
    gen2 = [{"input_ids": ids, "forced_bos": de, "kwargs": dict(legacy)} for ids in enc_ids]
    gen2.append({"input_ids": enc_ids[2], "forced_bos": de,
                 "kwargs": dict(legacy, early_stopping="never", length_penalty=1.5)})
    gen2.append({"input_ids": enc_ids[3], "forced_bos": en,
                 "kwargs": dict(legacy, early_stopping=True, num_beams=4, length_penalty=1.0)})
    ref2 = model_reference(m2, tok, enc_ids[1], [2, en, 5, 77, 400, 3], gen2)
    with open(os.path.join(d2, "reference.json"), "w") as f:
        json.dump(ref2, f)
    shutil.rmtree(work)
    for g_ in ref["generate"] + ref2["generate"]:
        print(len(g_["input_ids"]), "->", g_["output"], file=sys.stderr)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes tests/fixtures/tok/features/: small tokenizer.json files that use
the tokenizer.json features the real families' files do not (every Split
behaviour and invert, Digits runs, ByteLevel add_prefix_space, Metaspace
prepend schemes and split, the Strip/Replace/Prepend/NFC normalizers, added
tokens with lstrip/rstrip/single_word/normalized, unk_token with fuse_unk,
TemplateProcessing with EOS), each with reference ids from Hugging Face
`tokenizers` on a set of texts:

  features/<name>.json.gz   the tokenizer
  features/ref.json.gz      {"texts": [...], "ids": {name: [[...], ...]},
                          "special": {name: [[...], ...]}}

The small vocabularies are trained here with tokenizers' BpeTrainer on the
corpus of tests/fixtures/tok/corpus.json.gz (so run tools/tok_reference.py
first). Run with the venv's python from the repository root.
"""
import copy
import gzip
import json
import os

from tokenizers import Tokenizer, models, pre_tokenizers, trainers

OUT = "tests/fixtures/tok/features"


def train(corpus, byte_level):
    if byte_level:
        tk = Tokenizer(models.BPE())
        tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tr = trainers.BpeTrainer(vocab_size=1200, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                 show_progress=False)
    else:
        tk = Tokenizer(models.BPE(unk_token="<unk>"))
        tk.pre_tokenizer = pre_tokenizers.Metaspace()
        tr = trainers.BpeTrainer(vocab_size=1200, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False)
    tk.train_from_iterator(corpus, tr)
    return json.loads(tk.to_str())


def split(pattern, behavior, invert=False, regex=True):
    return {"type": "Split", "pattern": {"Regex" if regex else "String": pattern}, "behavior": behavior,
            "invert": invert}


BL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}
BL_RE = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
DEC_BL = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}


def added(tid, content, special=False, lstrip=False, rstrip=False, single_word=False, normalized=None):
    return {"id": tid, "content": content, "single_word": single_word, "lstrip": lstrip, "rstrip": rstrip,
            "normalized": (not special) if normalized is None else normalized, "special": special}


def variants(bl, sp):
    V = {}
    n = max(bl["model"]["vocab"].values()) + 1

    def bytelevel(pre, **kw):
        j = copy.deepcopy(bl)
        j["pre_tokenizer"] = pre
        j["decoder"] = DEC_BL
        j["post_processor"] = None
        j.update(kw)
        return j

    V["split_removed"] = bytelevel({"type": "Sequence", "pretokenizers": [split(" ", "Removed", regex=False), BL]})
    V["split_isolated_invert"] = bytelevel({"type": "Sequence", "pretokenizers": [split("\\w+", "Isolated", True), BL]})
    V["split_merged_prev"] = bytelevel({"type": "Sequence", "pretokenizers": [split("\\s+", "MergedWithPrevious"), BL]})
    V["split_merged_next"] = bytelevel({"type": "Sequence", "pretokenizers": [split("[ \\n]", "MergedWithNext"), BL]})
    V["split_contiguous"] = bytelevel({"type": "Sequence", "pretokenizers": [split("[aeiou]", "Contiguous"), BL]})
    V["split_removed_invert"] = bytelevel({"type": "Sequence", "pretokenizers": [split("\\p{L}+|\\p{N}", "Removed", True), BL]})
    V["digits_runs"] = bytelevel({"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": False}, BL_RE]})
    V["bytelevel_prefix"] = bytelevel({"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True})
    V["bytelevel_prefix_seq"] = bytelevel({"type": "Sequence", "pretokenizers": [
        split("\\n", "Isolated"), {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}]})
    V["normalizers"] = bytelevel(BL_RE, normalizer={"type": "Sequence", "normalizers": [
        {"type": "Strip", "strip_left": True, "strip_right": True},
        {"type": "Replace", "pattern": {"Regex": "\\s{2,}"}, "content": " "},
        {"type": "Replace", "pattern": {"String": "ing"}, "content": "ING"},
        {"type": "NFC"}, {"type": "Prepend", "prepend": ">"}]})
    at = bytelevel(BL_RE)
    at["added_tokens"] = [
        added(n, "<|eot|>", special=True), added(n + 1, "<lstrip>", special=True, lstrip=True),
        added(n + 2, "<rstrip>", special=True, rstrip=True), added(n + 3, "<both>", lstrip=True, rstrip=True),
        added(n + 4, "word", single_word=True), added(n + 5, "ing", normalized=True),
        added(n + 6, "def", normalized=False), added(n + 7, "    "), added(n + 8, "<|eot|>x", special=True)]
    at["post_processor"] = {"type": "TemplateProcessing",
                            "single": [{"SpecialToken": {"id": "<|eot|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                       {"SpecialToken": {"id": "<rstrip>", "type_id": 0}}],
                            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                            "special_tokens": {"<|eot|>": {"id": "<|eot|>", "ids": [n], "tokens": ["<|eot|>"]},
                                               "<rstrip>": {"id": "<rstrip>", "ids": [n + 2], "tokens": ["<rstrip>"]}}}
    V["added_options"] = at
    # SentencePiece-style vocabulary with byte fallback, as HF converts Llama.
    ns = max(sp["model"]["vocab"].values()) + 1
    spb = copy.deepcopy(sp)
    for b in range(256):
        spb["model"]["vocab"]["<0x%02X>" % b] = ns + b
    spb["model"]["byte_fallback"] = True
    spb["model"]["fuse_unk"] = True
    spb["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"},
        {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
    legacy = copy.deepcopy(spb)
    legacy["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "\u2581"}, {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]}
    legacy["pre_tokenizer"] = None
    V["spm_legacy_bytefallback"] = legacy
    for scheme, splitting in (("first", True), ("always", False), ("never", True)):
        j = copy.deepcopy(spb)
        j["normalizer"] = None
        j["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": scheme, "split": splitting}
        j["decoder"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": scheme, "split": splitting}
        V["metaspace_%s%s" % (scheme, "_split" if splitting else "")] = j
    unk = copy.deepcopy(sp)  # no byte fallback: unknown characters become <unk>, fused
    unk["model"]["fuse_unk"] = True
    unk["normalizer"] = legacy["normalizer"]
    unk["pre_tokenizer"] = None
    unk["decoder"] = legacy["decoder"]
    V["spm_unk_fused"] = unk
    return V


def main():
    rows = json.load(gzip.open("tests/fixtures/tok/corpus.json.gz"))
    # (no U+0000 in the trained vocabularies: jansson cannot read NUL in object keys)
    corpus = [r["text"].replace("\0", "") for r in rows if "text" in r]
    bl, sp = train(corpus, True), train(corpus, False)
    texts = [r["text"] for r in rows if "text" in r and (r["id"].startswith("adv/") or r["id"].endswith("/0/prompt")
                                                            or r["id"].endswith("/2/prompt"))]
    texts += ["a <lstrip> b", "a   <lstrip>", "x<rstrip>   y", " <both>  z", "word words sword word. (word)",
              "_word word_ word1 éword wordé", "singing ing ingot", "def  defined", "<|eot|>x <|eot|>",
              "\t    \t    ", "  spaced   out  ", "x" * 50 + "\u00e9\u4e2d\U0001f999", "\u4e2d\u6587 \U0001f999\U0001f999 z",
              "<s> hello </s>", " <s>x", "ab<s>", "\u2581 \u2581\u2581x"]
    os.makedirs(OUT, exist_ok=True)
    ref = {"texts": texts, "ids": {}, "special": {}}
    for name, j in variants(bl, sp).items():
        s = json.dumps(j, ensure_ascii=False)
        tk = Tokenizer.from_str(s)
        with gzip.GzipFile(os.path.join(OUT, name + ".json.gz"), "wb", mtime=0) as f:
            f.write(s.encode())
        ref["ids"][name] = [tk.encode(t, add_special_tokens=False).ids for t in texts]
        ref["special"][name] = [tk.encode(t, add_special_tokens=True).ids for t in texts[:40]]
        print(name, sum(map(len, ref["ids"][name])), "ids")
    with gzip.GzipFile(os.path.join(OUT, "ref.json.gz"), "wb", mtime=0) as f:
        f.write(json.dumps(ref, ensure_ascii=False).encode())


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the tokenizer fixtures under tests/fixtures/tok/ with the real
Hugging Face libraries (tokenizers, transformers) and sentencepiece:

  corpus.json.gz        the texts: all 164 HumanEval prompts and canonical
                        solutions, HumanEval+ canonical solutions, all MBPP+
                        prompts and canonical solutions, and an adversarial
                        corpus (many scripts, emoji, combining marks,
                        whitespace/newline/digit runs, CRLF, tabs, the special
                        token strings, invalid UTF-8 as raw bytes)
  hf/<name>/            tokenizer.json.gz + tokenizer_config.json per family:
                        copies of ../shared/tokenizers/hf (mistral-7b, llama3,
                        qwen3, deepseek_v3), and tokenizer.json files this
                        script builds from the llama.cpp GGUF vocabularies with
                        each family's Hugging Face pre-tokenizer (gpt2,
                        codegen = gpt2 + CodeGen's 38 whitespace tokens,
                        starcoder2, deepseek-coder); HF `tokenizers` loads and
                        checks each against llama.cpp's reference vectors
  spm/llama2.model.gz   the Llama-2 SentencePiece model
  ref/<name>.ids.gz     one line per corpus text: the reference ids, without
                        special tokens (HF: add_special_tokens=False;
                        sentencepiece: encode())
  ref/<name>.special    "index<TAB>ids" with special tokens, from transformers'
                        AutoTokenizer (add_special_tokens=True)

Invalid UTF-8 texts are given to the references as Python reads them,
bytes.decode("utf-8", "replace").

Run:  QROBUST_VENV=/work/venv tools/tok_reference.sh   (or this script with
the venv's python) --shared ../shared --out tests/fixtures/tok
"""
import argparse
import gzip
import io
import json
import os
import shutil
import struct
import sys

# ---------------------------------------------------------------- corpus


def adversarial():
    """The adversarial texts: (id, bytes)."""
    T = []

    def add(name, s):
        T.append(("adv/" + name, s if isinstance(s, bytes) else s.encode("utf-8")))

    scripts = {
        "latin": "Précis naïve Ångström façade coöperate Œuvre ﬁnancial ǅemal",
        "german": "Straße Fußgänger GROSS ẞ Äpfel über",
        "turkish": "İstanbul ıslak İi Iı",
        "greek": "Ἀρχιμήδης εὕρηκα ΣΊΣΥΦΟΣ ς σ",
        "cyrillic": "Съешь же ещё этих мягких французских булок, да выпей чаю. Ёё Її",
        "armenian": "Հայաստան Երևան",
        "hebrew": "שָׁלוֹם עֲלֵיכֶם עברית",
        "arabic": "مَرْحَبًا بِالْعَالَم العربية ١٢٣ ٤٥٦",
        "devanagari": "नमस्ते दुनिया हिन्दी क्षत्रिय",
        "bengali": "বাংলা ভাষা",
        "tamil": "தமிழ் மொழி",
        "thai": "ภาษาไทยง่ายนิดเดียว",
        "lao": "ພາສາລາວ",
        "khmer": "កាន់តែពិសេសអាចខលចេញ",
        "myanmar": "မြန်မာဘာသာ",
        "georgian": "ქართული ენა",
        "hangul": "한국어 키보드 훈민정음",
        "hangul_jamo": "\u1100\u1161\u11a8 \u1112\u1161\u11ab",
        "japanese": "日本語のテキスト、カタカナとひらがな。ｶﾀｶﾅ",
        "chinese": "中文字符测试，繁體中文測試。",
        "cjk_ext": "𠀀𠀁𪚥 𡃁",
        "ethiopic": "ኢትዮጵያ",
        "cherokee": "ᏣᎳᎩ",
        "mongolian": "ᠮᠣᠩᠭᠣᠯ",
        "tibetan": "བོད་ཡིག",
        "math": "∀x∈ℝ: x²≥0 ∑ᵢ aᵢ ≤ ∞ ⟨ψ|φ⟩ ℵ₀",
        "fullwidth": "ＡＢＣ ａｂｃ １２３ ！？",
        "mixed_rtl": "abc שלום def مرحبا 123",
        "bidi": "a\u202eb\u202cc \u200fd\u200e",
    }
    for k, v in scripts.items():
        add("script/" + k, v)
    emoji = {
        "simple": "I ❤ 🦙 and 🐍! 😀😃😄",
        "skin": "👍🏽 👋🏿 🤌🏻",
        "zwj": "👨‍👩‍👧‍👦 👩🏽‍💻 🏳️‍🌈",
        "flags": "🇫🇷🇩🇪🇯🇵 🇺🇸",
        "keycap": "1️⃣ #️⃣ *️⃣",
        "vs": "☺︎ ☺️ ✌︎ ✌️",
        "llama": " this is 🦙.cpp",
    }
    for k, v in emoji.items():
        add("emoji/" + k, v)
    comb = {
        "decomposed_e": "cafe\u0301 re\u0301sume\u0301",
        "stacked": "Z\u0324\u0354\u0367\u0311\u0313a\u0308\u0356\u032d\u0308\u0307l\u036e\u0312\u036bg\u030c\u0317\u035a\u031ao\u0319\u0314\u036e\u0307\u0350\u0307",
        "ordering": "a\u0301\u0323 a\u0323\u0301 q\u0307\u0323",
        "singletons": "\u212b \u2126 \u212a \u0340 \u0374",
        "exclusions": "\u0958\u0959 \u2adc \ufb1d",
        "nfc_hangul": "\u1100\u1161\u11a8\u1100\u1161",
        "marks_alone": "\u0301\u0302 x",
        "indic_nukta": "\u0915\u093c \u0921\u093c",
        "vietnamese": "Tiếng Việt có dấu: Việt Nam, ở đây, thẳng",
    }
    for k, v in comb.items():
        add("combining/" + k, v)
    ws = {
        "spaces": [" " * n for n in (1, 2, 3, 4, 5, 7, 8, 15, 16, 31, 32, 33, 40, 100)],
        "tabs": ["\t" * n for n in (1, 2, 3, 8, 9, 10, 20)],
        "newlines": ["\n" * n for n in (1, 2, 3, 5, 10)],
    }
    for k, vs in ws.items():
        for i, v in enumerate(vs):
            add("ws/%s/%d" % (k, i), v)
            add("ws/%s/%d/word" % (k, i), "a" + v + "b")
            add("ws/%s/%d/lead" % (k, i), v + "x = 1")
    add("ws/crlf", "line one\r\nline two\r\n\r\n  indented\r\n")
    add("ws/cr", "a\rb\r\rc")
    add("ws/mixed", " \t \t\n \n\t\n  \t  x")
    add("ws/vt_ff", "a\x0bb\x0cc\x0b\x0c")
    add("ws/unicode", "a\u00a0b\u2000c\u2003d\u3000e\u0085f\u2028g\u2029h\u200bi\ufeffj\u180ek\u202fl\u205fm")
    add("ws/unicode_runs", "\u00a0\u00a0 \u3000\u3000 x  \u2003\u2003")
    add("ws/trailing", "hello   ")
    add("ws/leading", "   hello")
    add("ws/only_nl_sp", "\n \n  \n   ")
    add("ws/before_punct", "x  .  y  !!  z")
    add("empty", "")
    digits = {
        "runs": "1 12 123 1234 12345 123456 1234567 12345678901234567890",
        "float": "3.14159 2.71828e-10 -0.5 1_000_000 0x1F 0b1010",
        "fullwidth": "１２３４ ５",
        "arabic_indic": "٠١٢٣٤٥٦٧٨٩ ۱۲۳",
        "devanagari": "१२३४",
        "other_n": "½ ¾ ² ³ ¹ Ⅻ ⅷ ① ⑩ 𝟘𝟙",
        "mixed": "abc123def456 x1y22z333 v2.0.1",
        "long": "9" * 1000,
        "dates": "2024-01-31 12:30:45 Q3'24",
    }
    for k, v in digits.items():
        add("digits/" + k, v)
    code = {
        "python": 'def f(x, y=2):\n    """Docstring with \'quotes\'."""\n    if x > y:\n\t\treturn x ** 2  # comment\n    return [i for i in range(10)]\n',
        "contractions": "I'm you're we've they'll she'd it's don't I'M YOU'RE IT'S 'S 'T 'Re 'vE 'lL 'd",
        "long_s": "'ſ 'ſt Kelvin \u212a 's",
        "unicode_ident": "def größe(ñ, λ): return ñ + λ  # π ≈ 3.14",
        "strings": 'print("tab\\tnewline\\n\\u00e9 \\x00") s = r"\\d+" b\'\\xff\'',
        "html": '<div class="a">&amp; &lt;tag&gt;</div><br/>',
        "json": '{"key": [1, 2.5, null, true], "k2": {"a": "b"}}',
        "punct": "!!! ??? ... --- === +++ *** /// \\\\\\ ||| &&& ^^^ ~~~ ``` ''' \"\"\"",
        "brackets": "((()))[[[]]]{{{}}} <<<>>>",
        "sql": "SELECT * FROM t WHERE a='x' AND b<>3;",
        "c": "int main(void){\n\tprintf(\"%d\\n\", 42);\n\treturn 0;\n}\n",
        "indent4": "class A:\n    def m(self):\n        pass\n\n\n    x = 1\n",
        "indent_tabs": "if x:\n\tif y:\n\t\tpass\n\t\t\t\n",
        "mixed_indent": "  \t  x\n\t    y\n",
    }
    for k, v in code.items():
        add("code/" + k, v)
    specials = ["<s>", "</s>", "<unk>", "<pad>", "<|endoftext|>", "<|begin_of_text|>", "<|end_of_text|>",
                "<|eot_id|>", "<|start_header_id|>", "<|im_start|>", "<|im_end|>", "<|fim_prefix|>",
                "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<filename>", "<file_sep>", "<repo_name>",
                "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜fim▁hole｜>", "<｜fim▁begin｜>",
                "<|EOT|>", "<|User|>", "<｜User｜>", "<|reserved_special_token_5|>", "[PAD32253]", "<mask>",
                "<|endoftext", "endoftext|>", "<0x41>", "▁", "▁▁hello", "Ġhello", "õ÷Áý"]
    for i, s in enumerate(specials):
        add("special/%d/alone" % i, s)
        add("special/%d/ctx" % i, "hello" + s + "world")
        add("special/%d/spaced" % i, "a " + s + " b")
        add("special/%d/double" % i, s + s + "\n" + s)
    add("special/mix", "<s>[INST] hi [/INST]</s><|im_start|>user\nhey<|im_end|>\n<|begin_of_text|><|eot_id|>")
    add("special/nested", "<<s>> <</s>> <|<|endoftext|>|>")
    bad = {
        "ff": b"\xff",
        "cont": b"abc\x80def",
        "lead_only": b"x\xc3",
        "truncated3": b"\xe2\x82 euro",
        "surrogate": b"\xed\xa0\x80 x",
        "too_big": b"\xf4\x90\x80\x80",
        "overlong": b"\xc0\xaf \xe0\x80\xaf",
        "truncated_emoji_end": "fin 🦙".encode()[:-1],
        "mixed": b"ok \xfe\xfe ok \xc3\xa9 \xc3( \xe6\x97",
        "nul": b"a\x00b\x00\x00c",
        "latin1": "café naïve".encode("latin-1"),
        "f5": b"\xf5\x80\x80\x80",
    }
    for k, v in bad.items():
        add("invalid_utf8/" + k, v)
    add("long/word", "ab" * 3000)
    add("long/spaces", " " * 500 + "x")
    add("long/mixed", ("Hello, world! 123 " * 200))
    add("long/noise", "".join(chr(0x61 + (i * 7919) % 26) + ("" if i % 13 else " ") for i in range(4000)))
    add("private_use", "\ue000\uf8ff \U000f0000")
    add("unassigned", "\u0378 \U0001ffff \uffff \U0010ffff")
    add("control", "\x01\x02\x1b[31mred\x1b[0m\x7f")
    return T


def corpus(shared):
    T = []
    he = [json.loads(l) for l in gzip.open(os.path.join(shared, "data/HumanEval.jsonl.gz"), "rt", encoding="utf-8")]
    hp = [json.loads(l) for l in gzip.open(os.path.join(shared, "data/HumanEvalPlus.jsonl.gz"), "rt", encoding="utf-8")]
    mp = [json.loads(l) for l in gzip.open(os.path.join(shared, "data/MbppPlus.jsonl.gz"), "rt", encoding="utf-8")]
    assert len(he) == 164 and len(hp) == 164 and len(mp) == 378
    for r in he:
        T.append((r["task_id"] + "/prompt", r["prompt"].encode()))
    for r in mp:
        T.append((r["task_id"] + "/prompt", r["prompt"].encode()))
    for r in he:
        T.append((r["task_id"] + "/canonical_solution", r["canonical_solution"].encode()))
    for r in hp:
        T.append(("HumanEvalPlus/" + r["task_id"].split("/")[1] + "/canonical_solution", r["canonical_solution"].encode()))
    for r in mp:
        T.append((r["task_id"] + "/canonical_solution", r["canonical_solution"].encode()))
    return T + adversarial()


def pystr(b):
    return b.decode("utf-8", "replace")


# ---------------------------------------------------------------- GGUF vocabularies


def gguf_kv(path):
    f = io.BytesIO(open(path, "rb").read())

    def rd(fmt):
        return struct.unpack("<" + fmt, f.read(struct.calcsize("<" + fmt)))

    def rstr():
        (n,) = rd("Q")
        return f.read(n).decode("utf-8")

    T = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def val(t):
        if t == 8:
            return rstr()
        if t == 9:
            et, n = rd("IQ")
            return [val(et) for _ in range(n)]
        return rd(T[t])[0]

    assert f.read(4) == b"GGUF"
    _, _, nkv = rd("IQQ")
    kv = {}
    for _ in range(nkv):
        k = rstr()
        (t,) = rd("I")
        kv[k] = val(t)
    return kv


BL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
BL_NOREGEX = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}


def split(regex):
    return {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False}


# The pre-tokenizers of the families' Hugging Face tokenizer.json files.
FAMILY_PRE = {
    "gpt2": BL,
    "starcoder2": {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True}, BL]},
    "deepseek-coder": {"type": "Sequence", "pretokenizers": [
        split("[\r\n]"), split("\\s?\\p{L}+"), split("\\s?\\p{P}+"), split("[一-龥ࠀ-一가-퟿]+"),
        {"type": "Digits", "individual_digits": True}, BL_NOREGEX]},
}


def build_json(gguf, family, extra_added=()):
    kv = gguf_kv(gguf)
    toks, types, merges = kv["tokenizer.ggml.tokens"], kv["tokenizer.ggml.token_type"], kv["tokenizer.ggml.merges"]
    vocab, added = {}, []
    for i, (s, ty) in enumerate(zip(toks, types)):
        if s == "[PAD%d]" % i:
            continue  # llama.cpp's padding, not in the HF tokenizer
        if ty == 1 or ty == 3 and family != "deepseek-coder":
            vocab[s] = i
        if ty in (3, 4):
            special = ty == 3
            added.append({"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": not special, "special": special})
    for s in extra_added:
        added.append({"id": len(toks) + len([a for a in added if a["id"] >= len(toks)]), "content": s,
                      "single_word": False, "lstrip": False, "rstrip": False, "normalized": True, "special": False})
    post = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True}
    if family == "deepseek-coder":
        # DeepSeek-Coder's tokenizer.json adds BOS in its post-processor.
        bos = toks[kv["tokenizer.ggml.bos_token_id"]]
        post = {"type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                         {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {bos: {"id": bos, "ids": [kv["tokenizer.ggml.bos_token_id"]], "tokens": [bos]}}}
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
        "pre_tokenizer": FAMILY_PRE[family],
        "post_processor": post,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "vocab": vocab,
                  "merges": merges},
    }


def check_gguf_vectors(tk, gguf):
    """The HF tokenizer built from a GGUF vocabulary must give llama.cpp's
    reference ids (written by HF for that family) on every test text."""
    inp = open(gguf + ".inp", encoding="utf-8", newline="").read().split("\n__ggml_vocab_test__\n")[:-1]
    out = open(gguf + ".out", encoding="utf-8").read().split("\n")
    for i, t in enumerate(inp):
        got = tk.encode(t, add_special_tokens=False).ids
        want = [int(x) for x in out[i].split()]
        assert got == want, (gguf, i, t, got, want)
    return len(inp)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default="../shared")
    ap.add_argument("--out", default="tests/fixtures/tok")
    a = ap.parse_args()
    from tokenizers import Tokenizer
    import sentencepiece
    import transformers
    from transformers import AutoTokenizer

    texts = corpus(a.shared)
    os.makedirs(os.path.join(a.out, "ref"), exist_ok=True)
    with gzip.GzipFile(os.path.join(a.out, "corpus.json.gz"), "wb", mtime=0) as f:
        rows = []
        for tid, b in texts:
            try:
                rows.append({"id": tid, "text": b.decode("utf-8")})
            except UnicodeDecodeError:
                rows.append({"id": tid, "hex": b.hex()})
        f.write(json.dumps(rows, ensure_ascii=False, indent=0).encode())
    print("corpus: %d texts, %d bytes" % (len(texts), sum(len(b) for _, b in texts)))

    hfdir = os.path.join(a.out, "hf")
    gv = os.path.join(a.shared, "tokenizers/gguf-vocab/ggml-vocab-%s.gguf")
    cfgs = {
        "gpt2": {"tokenizer_class": "GPT2Tokenizer", "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
                 "add_prefix_space": False},
        "codegen": {"tokenizer_class": "CodeGenTokenizer", "bos_token": "<|endoftext|>",
                    "eos_token": "<|endoftext|>", "add_prefix_space": False},
        "starcoder2": {"tokenizer_class": "GPT2Tokenizer", "bos_token": "<|endoftext|>",
                       "eos_token": "<|endoftext|>", "add_prefix_space": False},
        "deepseek-coder": {"tokenizer_class": "LlamaTokenizerFast", "add_bos_token": True, "add_eos_token": False,
                           "bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>",
                           "legacy": True},
    }
    # CodeGen adds runs of 31..2 spaces and 9..2 tabs after GPT-2's vocabulary
    # (salesforce/CodeGen jaxformer/hf/sample.py include_whitespace/include_tabs).
    codegen_ws = [" " * n for n in range(31, 1, -1)] + ["\t" * n for n in range(9, 1, -1)]
    builds = {"gpt2": (gv % "gpt-2", "gpt2", ()), "codegen": (gv % "gpt-2", "gpt2", codegen_ws),
              "starcoder2": (gv % "starcoder", "starcoder2", ()),
              "deepseek-coder": (gv % "deepseek-coder", "deepseek-coder", ())}
    for name, (g, fam, extra) in builds.items():
        # plain GPT-2 is only a reference for the GPT-2 GGUF (CodeGen's file tests the JSON path)
        d = os.path.join(hfdir if name != "gpt2" else "/tmp/qr_tokref_build", name)
        os.makedirs(d, exist_ok=True)
        j = build_json(g, fam, extra)
        raw = json.dumps(j, ensure_ascii=False).encode()
        with gzip.GzipFile(os.path.join(d, "tokenizer.json.gz"), "wb", mtime=0) as f:
            f.write(raw)
        json.dump(cfgs[name], open(os.path.join(d, "tokenizer_config.json"), "w"), ensure_ascii=False, indent=1)
        tk = Tokenizer.from_str(raw.decode())
        if name != "codegen":
            print("%s: HF reproduces %d llama.cpp vectors of %s" % (name, check_gguf_vectors(tk, g), os.path.basename(g)))
    for name in ("mistral-7b", "llama3", "qwen3", "deepseek_v3"):
        d = os.path.join(hfdir, name)
        os.makedirs(d, exist_ok=True)
        src = os.path.join(a.shared, "tokenizers/hf", name)
        with open(os.path.join(src, "tokenizer.json"), "rb") as fi, \
                gzip.GzipFile(os.path.join(d, "tokenizer.json.gz"), "wb", mtime=0) as fo:
            shutil.copyfileobj(fi, fo)
        shutil.copy(os.path.join(src, "tokenizer_config.json"), os.path.join(d, "tokenizer_config.json"))
    os.makedirs(os.path.join(a.out, "spm"), exist_ok=True)
    spm_src = os.path.join(a.shared, "tokenizers/spm/llama2/tokenizer.model")
    with open(spm_src, "rb") as fi, gzip.GzipFile(os.path.join(a.out, "spm/llama2.model.gz"), "wb", mtime=0) as fo:
        shutil.copyfileobj(fi, fo)

    def write_ref(name, ids_list, special):
        with gzip.GzipFile(os.path.join(a.out, "ref", name + ".ids.gz"), "wb", mtime=0) as f:
            f.write("".join(" ".join(map(str, ids)) + "\n" for ids in ids_list).encode())
        with open(os.path.join(a.out, "ref", name + ".special"), "w") as f:
            for i, ids in special:
                f.write("%d\t%s\n" % (i, " ".join(map(str, ids))))
        print("%s: %d texts, %d ids" % (name, len(ids_list), sum(map(len, ids_list))))

    # With special tokens: a few of each kind of text.
    sp_idx = [i for i, (tid, _) in enumerate(texts) if tid in ("HumanEval/0/prompt", "Mbpp/2/prompt", "adv/empty",
              "adv/ws/spaces/0", "adv/special/mix", "adv/code/python", "adv/special/5/ctx", "adv/emoji/llama")]
    for name in ("gpt2", "codegen", "starcoder2", "deepseek-coder", "mistral-7b", "llama3", "qwen3", "deepseek_v3"):
        d = os.path.join(hfdir if name != "gpt2" else "/tmp/qr_tokref_build", name)
        tk = Tokenizer.from_str(gzip.open(os.path.join(d, "tokenizer.json.gz"), "rt", encoding="utf-8").read())
        ids = [tk.encode(pystr(b), add_special_tokens=False).ids for _, b in texts]
        # transformers needs a plain tokenizer.json in the directory
        tmp = os.path.join("/tmp", "qr_tokref_" + name)
        os.makedirs(tmp, exist_ok=True)
        with open(os.path.join(tmp, "tokenizer.json"), "wb") as fo:
            fo.write(gzip.open(os.path.join(d, "tokenizer.json.gz")).read())
        shutil.copy(os.path.join(d, "tokenizer_config.json"), tmp)
        at = AutoTokenizer.from_pretrained(tmp)
        # BOS/EOS as transformers adds them, around the `tokenizers` ids.
        # transformers 4's LlamaTokenizerFast (what the study's models were
        # used with) rebuilds the post-processor from add_bos_token (default
        # true) / add_eos_token (default false); transformers 5 no longer does
        # so for byte-level files (it loads them as TokenizersBackend), so that
        # rule is applied here as transformers 4 did.
        cfg = json.load(open(os.path.join(d, "tokenizer_config.json")))
        llama_rule = cfg.get("tokenizer_class") in ("LlamaTokenizer", "LlamaTokenizerFast", "CodeLlamaTokenizer",
                                                     "CodeLlamaTokenizerFast")
        special = []
        for i in sp_idx:
            s = pystr(texts[i][1])
            w, wo = at(s, add_special_tokens=True)["input_ids"], at(s, add_special_tokens=False)["input_ids"]
            k = next(k for k in range(len(w) - len(wo) + 1) if w[k:k + len(wo)] == wo)
            pre, post = w[:k], w[k + len(wo):]
            if llama_rule:
                tid = lambda key: tk.token_to_id(cfg[key] if isinstance(cfg[key], str) else cfg[key]["content"])
                pre2 = [tid("bos_token")] if cfg.get("add_bos_token", True) else []
                post2 = [tid("eos_token")] if cfg.get("add_eos_token", False) else []
                if (pre2, post2) != (pre, post) and i == sp_idx[0]:
                    print("%s: transformers %s adds %s/%s, transformers 4's Llama rule %s/%s (used)" % (
                        name, transformers.__version__, pre, post, pre2, post2))
                pre, post = pre2, post2
            special.append((i, pre + ids[i] + post))
        # transformers 5 rebuilds some tokenizers from their class instead of
        # tokenizer.json (GPT2Tokenizer drops StarCoder2's Digits step); the
        # reference is `tokenizers` on the file, as transformers 4 used it.
        diff = sum(at(pystr(b), add_special_tokens=False)["input_ids"] != ids[i] for i, (_, b) in enumerate(texts))
        print("%s: transformers %s %s differs from tokenizers on %d texts" % (name, transformers.__version__, type(at).__name__, diff))
        write_ref(name, ids, special)
    sp = sentencepiece.SentencePieceProcessor(model_file=spm_src)
    ids = [sp.encode(pystr(b)) for _, b in texts]
    write_ref("llama2-spm", ids, [(i, [sp.bos_id()] + sp.encode(pystr(texts[i][1]))) for i in sp_idx])
    print("tokenizers", __import__("tokenizers").__version__, "transformers", transformers.__version__,
          "sentencepiece", sentencepiece.__version__)


if __name__ == "__main__":
    main()

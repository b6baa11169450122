#!/usr/bin/env python3
"""Writes tests/fixtures/tok/unicode.json.gz: reference results of Python
(3.11, Unicode 14 like the tables of tokenizer/unicode_nfc_data.h) for
  "nfc":    [text, unicodedata.normalize("NFC", text)]: every character with a
            canonical decomposition, every primary composite's pair, and
            random mixes of starters, combining marks of many classes, Hangul
            jamo and syllables;
  "repair": [hex bytes, hex of bytes.decode("utf-8", "replace").encode()]:
            random byte strings around every UTF-8 boundary case.
Deterministic (fixed seed). Run: python3 tools/tok_unicode_ref.py
"""
import gzip
import json
import random
import unicodedata as ud

rng = random.Random(20251123)
nfc = []
for cp in range(0x110000):
    if 0xD800 <= cp < 0xE000:
        continue
    d = ud.decomposition(chr(cp))
    if d and not d.startswith("<"):
        s = chr(cp)
        nfc.append(s)
        parts = "".join(chr(int(x, 16)) for x in d.split())
        nfc.append(parts)
        nfc.append("a" + parts + "\u0323")
pool = ([chr(c) for c in range(0x20, 0x7F)] + list("ÀÅÇÉÑÖÜåçéñöüǅΩΆάᾼ") +
        [chr(c) for c in range(0x300, 0x370)] + [chr(c) for c in (0x591, 0x5B0, 0x5C4, 0x610, 0x64B, 0x670, 0x93C, 0x94D,
                                                               0x9BC, 0xB3E, 0xB47, 0xBBE, 0xBC6, 0xCC2, 0xD3E, 0xDCF,
                                                               0xF71, 0xF72, 0xF73, 0xF74, 0xF80, 0x1B35, 0x302A, 0x3099,
                                                               0x309A, 0x20D0, 0x20E3, 0x1D165, 0x1D16D, 0x1E94A)] +
        [chr(c) for c in range(0x1100, 0x1113)] + [chr(c) for c in range(0x1161, 0x1176)] +
        [chr(c) for c in range(0x11A8, 0x11C3)] + list("가각한글") +
        list("\u212b\u2126\u212a\u0958\u2adc\ufb1d\u0344\u0F43\u1E9B\u0385\u1FEE\u0B48\u0B4B\u0DDA\u304C\u30D0"))
for _ in range(4000):
    nfc.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 12))))
nfc = [[s, ud.normalize("NFC", s)] for s in nfc]

pieces = [b"a", b" ", b"\x00", b"\x7f", b"\x80", b"\xbf", b"\xc0", b"\xc1", b"\xc2", b"\xc3\xa9", b"\xdf", b"\xe0",
          b"\xe0\xa0", b"\xe0\x9f", b"\xe1\x80", b"\xed\x9f\xbf", b"\xed\xa0", b"\xee", b"\xef\xbf\xbd", b"\xf0",
          b"\xf0\x90", b"\xf0\x8f", b"\xf0\x9f\xa6\x99", b"\xf4\x8f\xbf\xbf", b"\xf4\x90", b"\xf5", b"\xf8", b"\xfe",
          b"\xff", b"\xe2\x82\xac", b"\xe2\x82"]
repair = []
for _ in range(3000):
    b = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
    repair.append([b.hex(), b.decode("utf-8", "replace").encode().hex()])
with gzip.GzipFile("tests/fixtures/tok/unicode.json.gz", "wb", mtime=0) as f:
    f.write(json.dumps({"unicode": ud.unidata_version, "nfc": nfc, "repair": repair}, ensure_ascii=False).encode())
print(len(nfc), "nfc cases,", len(repair), "repair cases")

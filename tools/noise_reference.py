#!/usr/bin/env python3
"""Independent reference of qrobust's weight-noise generator (attacks/noise.h).

Written from the specification in attacks/noise.h, not from the C code: Philox4x32-10
on Python integers, the key hash, and the float32 transform with numpy float32
arithmetic (IEEE, round to nearest even) and an exactly rounded fma built on
fractions. Writes tests/fixtures/attack/noise_kat.txt, the known-answer values the C
test (tests/test_attack_noise.c) checks bit for bit; a CUDA port can check itself
against the same file.

usage: QROBUST_VENV=/work/venv tools/noise_reference.py   (needs numpy)
"""
import os
import sys
from fractions import Fraction

import numpy as np

M32 = 0xFFFFFFFF
f32 = np.float32


def philox4x32_10(ctr, key):
    c = list(ctr)
    k0, k1 = key
    for r in range(10):
        if r:
            k0 = (k0 + 0x9E3779B9) & M32
            k1 = (k1 + 0xBB67AE85) & M32
        p0 = 0xD2511F53 * c[0]
        p1 = 0xCD9E8D57 * c[2]
        c = [((p1 >> 32) ^ c[1] ^ k0) & M32, p1 & M32, ((p0 >> 32) ^ c[3] ^ k1) & M32, p0 & M32]
    return c


def mix64(x):
    M = (1 << 64) - 1
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & M
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & M
    x ^= x >> 31
    return x


def key64(seed, parts):
    h = 0xCBF29CE484222325
    data = seed.to_bytes(8, "little")
    for p in parts:
        data += p.encode() + b"\xff"
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & ((1 << 64) - 1)
    return mix64(h)


def round_f32(x: Fraction) -> np.float32:
    """Round an exact rational to the nearest float32, ties to even."""
    cand = f32(float(x))  # at most one ulp away (double rounding)
    best = None
    for c in (np.nextafter(cand, f32(-np.inf)), cand, np.nextafter(cand, f32(np.inf))):
        d = abs(Fraction(float(c)) - x)
        if best is None or d < best[0] or (d == best[0] and (int(c.view(np.uint32)) & 1) == 0):
            best = (d, c)
    return best[1]


def fma(a, b, c):
    return round_f32(Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c)))


H = lambda s: f32(float.fromhex(s))
SQRT2, LN2 = H("0x1.6a09e6p+0"), H("0x1.62e430p-1")
I3, I5, I7, I9, I11 = H("0x1.555556p-2"), H("0x1.99999ap-3"), H("0x1.24924ap-3"), H("0x1.c71c72p-4"), H("0x1.745d18p-4")
PI_2_23 = H("0x1.921fb6p-22")
S3, S5, S7, S9 = H("-0x1.555556p-3"), H("0x1.111112p-7"), H("-0x1.a01a02p-13"), H("0x1.71de3ap-19")
C2, C4, C6, C8, C10 = H("-0x1p-1"), H("0x1.555556p-5"), H("-0x1.6c16c2p-10"), H("0x1.a01a02p-16"), H("-0x1.27e4fcp-22")


def ln_u(m):
    e = m.bit_length() - 1
    f = f32(m / 2**e)  # exact
    if f > SQRT2:
        f = f32(f * f32(0.5))
        e += 1
    s = f32(f32(f - f32(1)) / f32(f + f32(1)))
    t = f32(s * s)
    p = fma(t, I11, I9)
    p = fma(t, p, I7)
    p = fma(t, p, I5)
    p = fma(t, p, I3)
    p = fma(t, p, f32(1))
    lnf = f32(f32(s + s) * p)
    return fma(f32(e - 24), LN2, lnf)


def cossin(k2):
    q, r = k2 >> 22, k2 & 0x3FFFFF
    swap = r > (1 << 21)
    rr = (1 << 22) - r if swap else r
    t = f32(f32(rr) * PI_2_23)
    t2 = f32(t * t)
    ps = fma(t2, S9, S7)
    ps = fma(t2, ps, S5)
    ps = fma(t2, ps, S3)
    sn = fma(f32(t * t2), ps, t)
    pc = fma(t2, C10, C8)
    pc = fma(t2, pc, C6)
    pc = fma(t2, pc, C4)
    pc = fma(t2, pc, C2)
    cs = fma(t2, pc, f32(1))
    if swap:
        sn, cs = cs, sn
    return [(cs, sn), (-sn, cs), (-cs, -sn), (sn, -cs)][q]


def noise(seed, name, dist, level, i):
    k = key64(seed, [name])
    x = philox4x32_10([(i >> 2) & M32, (i >> 2) >> 32, 0, 0], [k & M32, k >> 32])
    lane = i & 3
    level = f32(level)
    if dist == "uniform":
        v = f32(2 * (x[lane] >> 8) + 1 - (1 << 24)) * f32(2.0**-24)
        return f32(level * f32(v))
    a = lane & 2
    R = np.sqrt(f32(f32(-2) * ln_u((x[a] >> 8) + 1)), dtype=np.float32)
    c, s = cossin(x[a + 1] >> 8)
    z = f32(R * (c if lane == a else s))
    return f32(level * z)


def main():
    # Philox known answers from Random123's kat_vectors, to check this reference.
    assert philox4x32_10([0, 0, 0, 0], [0, 0]) == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    assert philox4x32_10([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0]) == [
        0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]
    out = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "attack", "noise_kat.txt")
    rows = []
    cases = [(0, "model.layers.0.self_attn.q_proj.weight", "gaussian", 1e-3),
             (12345, "model.embed_tokens.weight", "gaussian", 1e-2),
             (7, "lm_head.weight", "uniform", 3e-3),
             (2**63 + 5, "model.norm.weight", "uniform", 1e-4)]
    idx = [0, 1, 2, 3, 4, 5, 6, 7, 1001, 65537, 2**32 + 3, 2**33 * 3 + 2, 10**10 + 1]
    for seed, name, dist, level in cases:
        for i in idx:
            v = noise(seed, name, dist, level, i)
            rows.append(f"{seed} {name} {dist} {float(f32(level)).hex()} {i} {float(v).hex()}")
    # The two transform building blocks at their edges and at a spread of inputs.
    for m in [1, 2, 3, 1 << 12, 5792619, 5792620, 11863283, (1 << 24) - 1, 1 << 24]:
        rows.append(f"ln_u {m} {float(ln_u(m)).hex()}")
    for k2 in [0, 1, (1 << 21) - 1, 1 << 21, (1 << 21) + 1, (1 << 22) - 1, 1 << 22, 3 << 22, 12345678, (1 << 24) - 1]:
        c, s = cossin(k2)
        rows.append(f"cossin {k2} {float(c).hex()} {float(s).hex()}")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write("# Known answers of the weight-noise generator, written by tools/noise_reference.py\n")
        f.write("# seed tensor dist level(hex) index noise(hex) | ln_u m value | cossin k2 cos sin\n")
        f.write("\n".join(rows) + "\n")
    print(f"wrote {len(rows)} rows to {os.path.normpath(out)}")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Independent implementation of actmap's seeded latents (README: "Seeded latents"), using
Python's own math.log and math.sqrt, to produce tests/fixtures/seeded_latents.json.

SplitMix64 from the seed; u = (next >> 11) * 2^-53; uniform: 2u - 1; normal: Marsaglia's polar
method on pairs (2u-1, 2v-1), both values of an accepted pair used in order; results rounded to
float32 (numpy)."""
import json, math, sys
import numpy as np

MASK = (1 << 64) - 1


def splitmix64(seed):
    state = seed & MASK
    while True:
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        yield z ^ (z >> 31)


def latent(seed, size, distribution):
    rng = splitmix64(seed)
    u01 = lambda: (next(rng) >> 11) * 2.0 ** -53
    out = []
    if distribution == "uniform":
        while len(out) < size:
            out.append(2.0 * u01() - 1.0)
    else:
        while len(out) < size:
            u, v = 2.0 * u01() - 1.0, 2.0 * u01() - 1.0
            s = u * u + v * v
            if s >= 1.0 or s == 0.0:
                continue
            f = math.sqrt(-2.0 * math.log(s) / s)
            out.append(u * f)
            if len(out) < size:
                out.append(v * f)
    return [float(np.float32(x)) for x in out]


def main():
    cases = []
    for seed, size, dist in [(0, 64, "normal"), (1, 64, "normal"), (42, 7, "normal"), (2**63 + 5, 100, "normal"),
                             (0, 100, "uniform"), (123456789, 16, "uniform")]:
        cases.append({"seed": seed, "size": size, "distribution": dist, "z": latent(seed, size, dist)})
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/seeded_latents.json"
    with open(out, "w") as f:
        json.dump({"generator": "tests/reference/seeded_latents.py", "cases": cases}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":  # importers (the other reference scripts) only want latent()
    main()

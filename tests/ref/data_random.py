#!/usr/bin/env python3
"""Pure-Python model of src/data/random.h (splitmix64, Lemire's bounded integers,
Fisher-Yates from the back, derive_seed) and of make_split, written from the published
algorithms. Prints the goldens that src/data/random_test.cpp and split_test.cpp check, so
that a change of generator, stream or cut order cannot go unnoticed.

    /usr/bin/python3 tests/ref/data_random.py
"""
M64 = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & M64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & M64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    def below(self, bound):
        m = self.next() * bound
        low = m & M64
        if low < bound:
            threshold = ((1 << 64) - bound) % bound
            while low < threshold:
                m = self.next() * bound
                low = m & M64
        return m >> 64


def derive_seed(seed, tag):
    return SplitMix64(seed ^ SplitMix64(tag).next()).next()


SPLIT = int.from_bytes(b"split", "big")
SAMPLER = int.from_bytes(b"sampler", "big")


def permutation(n, seed):
    v = list(range(n))
    rng = SplitMix64(seed)
    for i in range(n, 1, -1):
        j = rng.below(i)
        v[i - 1], v[j] = v[j], v[i - 1]
    return v


def make_split(n, train, val, test, seed):
    def rnd(x):  # llround: half away from zero
        import math
        return int(math.floor(x + 0.5))
    n_test = min(n, rnd(test * n))
    n_val = min(n - n_test, rnd(val * n))
    p = permutation(n, derive_seed(seed, SPLIT))
    return sorted(p[n_test:n_test + n_val]), sorted(p[:n_test]), p[n_test + n_val:]


if __name__ == "__main__":
    r = SplitMix64(1234567)
    print("splitmix64(1234567) first 3:", [hex(r.next()) for _ in range(3)])
    r = SplitMix64(42)
    print("below(10) x10 from seed 42:", [r.below(10) for _ in range(10)])
    print("derive_seed(42, split):", hex(derive_seed(42, SPLIT)))
    print("permutation(10, 7):", permutation(10, 7))
    val, test, train = make_split(20, 0.7, 0.15, 0.15, 42)
    print("make_split(20, .7, .15, .15, 42): val", val, "test", test, "train", train)
    # The sampler's epoch stream: derive_seed(derive_seed(seed, sampler), epoch).
    print("sampler epoch 0/1 permutation(8) seed 42:",
          permutation(8, derive_seed(derive_seed(42, SAMPLER), 0)),
          permutation(8, derive_seed(derive_seed(42, SAMPLER), 1)))

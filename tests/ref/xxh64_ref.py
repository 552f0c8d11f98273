"""Goldens for src/common/hash64 (XXH64) from the reference xxHash library installed on the
system (libxxhash0), called through ctypes. Run: /usr/bin/python3 tests/ref/xxh64_ref.py
> tests/golden/common/xxh64.txt. Each line: length seed digest(hex). The input of length n
is bytes (i * 31 + 7) % 256 for i < n; lengths cover every tail path (0-3, 4-7, 8-31 bytes
left over) and more than one 32-byte stripe."""
import ctypes
import ctypes.util

lib = ctypes.CDLL(ctypes.util.find_library("xxhash") or "libxxhash.so.0")
lib.XXH64.restype = ctypes.c_uint64
lib.XXH64.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64]

lengths = list(range(0, 70)) + [100, 127, 128, 129, 1000, 4096, 65537, 1 << 20]
for seed in (0, 42, 0x9E3779B97F4A7C15):
    for n in lengths:
        data = bytes((i * 31 + 7) % 256 for i in range(n))
        print(n, seed, "%016x" % lib.XXH64(data, n, seed))

"""Keccak-256 of many messages in one call, and the hashing of a whole Merkle tree, compiled.

A tree of n records takes 3n - 1 keccak permutations (two per leaf, one per internal node). Called
from Python one at a time, each costs the permutation plus about half a microsecond of call and
object overhead, which caps a tree at about 190k leaves/s. Here the loops over the messages and
over the tree run as machine code (numba, compiled once and cached on disk), so a permutation
costs only itself.

The permutation is Keccak-f[1600] as specified by its authors (the original padding `0x01 ...
0x80`, not SHA-3's `0x06`), lanes little-endian, rate 136 bytes. Every function here is checked
against `sha3.keccak_256` (safe-pysha3) and, through the trees, against OpenZeppelin's JS library
(tests/worker/test_merkle.py). Without numba, `AVAILABLE` is False and `worker.merkle` hashes
one message at a time instead, with the same results; so it does for trees under `MIN_BATCH`
leaves, which take milliseconds either way.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# NOTE: numba is imported on first use only: it adds ~60 MB to a process, which a worker with
# small rounds (hashed one message at a time below `MIN_BATCH` leaves) never pays.
AVAILABLE = importlib.util.find_spec("numba") is not None
MIN_BATCH = 2048  # leaves from which a tree is hashed in one batch
SPLIT = 8192  # messages or nodes from which the work is split over the cores
THREADS = min(2, os.cpu_count() or 1)
_lock = threading.Lock()
_compiled = False
_pool: ThreadPoolExecutor | None = None

RATE = 136  # bytes absorbed per permutation by Keccak-256
_LANES = RATE // 8
_RC = np.array(
    [0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
     0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
     0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
     0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
     0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
     0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008],
    dtype=np.uint64,
)  # fmt: skip


def _rotl(x, n):  # pragma: no cover - compiled
    return (x << np.uint64(n)) | (x >> np.uint64(64 - n))


def _permute(st, rc):  # pragma: no cover - compiled
    """Keccak-f[1600] on the 25 lanes of `st` (lane x + 5y), in place: theta, rho and pi, chi,
    iota, 24 rounds, on local variables (the lanes stay in registers)."""
    (
        a0,
        a1,
        a2,
        a3,
        a4,
        a5,
        a6,
        a7,
        a8,
        a9,
        a10,
        a11,
        a12,
        a13,
        a14,
        a15,
        a16,
        a17,
        a18,
        a19,
        a20,
        a21,
        a22,
        a23,
        a24,
    ) = (
        st[0],
        st[1],
        st[2],
        st[3],
        st[4],
        st[5],
        st[6],
        st[7],
        st[8],
        st[9],
        st[10],
        st[11],
        st[12],
        st[13],
        st[14],
        st[15],
        st[16],
        st[17],
        st[18],
        st[19],
        st[20],
        st[21],
        st[22],
        st[23],
        st[24],
    )
    for r in range(24):
        c0 = a0 ^ a5 ^ a10 ^ a15 ^ a20
        c1 = a1 ^ a6 ^ a11 ^ a16 ^ a21
        c2 = a2 ^ a7 ^ a12 ^ a17 ^ a22
        c3 = a3 ^ a8 ^ a13 ^ a18 ^ a23
        c4 = a4 ^ a9 ^ a14 ^ a19 ^ a24
        d0 = c4 ^ _rotl(c1, 1)
        d1 = c0 ^ _rotl(c2, 1)
        d2 = c1 ^ _rotl(c3, 1)
        d3 = c2 ^ _rotl(c4, 1)
        d4 = c3 ^ _rotl(c0, 1)
        b0 = a0 ^ d0
        b1 = _rotl(a6 ^ d1, 44)
        b2 = _rotl(a12 ^ d2, 43)
        b3 = _rotl(a18 ^ d3, 21)
        b4 = _rotl(a24 ^ d4, 14)
        b5 = _rotl(a3 ^ d3, 28)
        b6 = _rotl(a9 ^ d4, 20)
        b7 = _rotl(a10 ^ d0, 3)
        b8 = _rotl(a16 ^ d1, 45)
        b9 = _rotl(a22 ^ d2, 61)
        b10 = _rotl(a1 ^ d1, 1)
        b11 = _rotl(a7 ^ d2, 6)
        b12 = _rotl(a13 ^ d3, 25)
        b13 = _rotl(a19 ^ d4, 8)
        b14 = _rotl(a20 ^ d0, 18)
        b15 = _rotl(a4 ^ d4, 27)
        b16 = _rotl(a5 ^ d0, 36)
        b17 = _rotl(a11 ^ d1, 10)
        b18 = _rotl(a17 ^ d2, 15)
        b19 = _rotl(a23 ^ d3, 56)
        b20 = _rotl(a2 ^ d2, 62)
        b21 = _rotl(a8 ^ d3, 55)
        b22 = _rotl(a14 ^ d4, 39)
        b23 = _rotl(a15 ^ d0, 41)
        b24 = _rotl(a21 ^ d1, 2)
        a0 = b0 ^ (~b1 & b2)
        a1 = b1 ^ (~b2 & b3)
        a2 = b2 ^ (~b3 & b4)
        a3 = b3 ^ (~b4 & b0)
        a4 = b4 ^ (~b0 & b1)
        a5 = b5 ^ (~b6 & b7)
        a6 = b6 ^ (~b7 & b8)
        a7 = b7 ^ (~b8 & b9)
        a8 = b8 ^ (~b9 & b5)
        a9 = b9 ^ (~b5 & b6)
        a10 = b10 ^ (~b11 & b12)
        a11 = b11 ^ (~b12 & b13)
        a12 = b12 ^ (~b13 & b14)
        a13 = b13 ^ (~b14 & b10)
        a14 = b14 ^ (~b10 & b11)
        a15 = b15 ^ (~b16 & b17)
        a16 = b16 ^ (~b17 & b18)
        a17 = b17 ^ (~b18 & b19)
        a18 = b18 ^ (~b19 & b15)
        a19 = b19 ^ (~b15 & b16)
        a20 = b20 ^ (~b21 & b22)
        a21 = b21 ^ (~b22 & b23)
        a22 = b22 ^ (~b23 & b24)
        a23 = b23 ^ (~b24 & b20)
        a24 = b24 ^ (~b20 & b21)
        a0 ^= rc[r]
    (
        st[0],
        st[1],
        st[2],
        st[3],
        st[4],
        st[5],
        st[6],
        st[7],
        st[8],
        st[9],
        st[10],
        st[11],
        st[12],
        st[13],
        st[14],
        st[15],
        st[16],
        st[17],
        st[18],
        st[19],
        st[20],
        st[21],
        st[22],
        st[23],
        st[24],
    ) = (
        a0,
        a1,
        a2,
        a3,
        a4,
        a5,
        a6,
        a7,
        a8,
        a9,
        a10,
        a11,
        a12,
        a13,
        a14,
        a15,
        a16,
        a17,
        a18,
        a19,
        a20,
        a21,
        a22,
        a23,
        a24,
    )


def _rows(blocks, out, twice, rc):  # pragma: no cover - compiled
    """Keccak-256 of each row of `blocks` (padded messages as uint64 lanes, a multiple of 17
    per row) into the rows of `out` (4 lanes each); `twice`: the keccak of that digest instead."""
    st = np.zeros(25, np.uint64)
    width = blocks.shape[1]
    for k in range(blocks.shape[0]):
        st[:] = 0
        for start in range(0, width, _LANES):
            for i in range(_LANES):
                st[i] ^= blocks[k, start + i]
            _permute(st, rc)
        if twice:
            for i in range(4, 25):
                st[i] = 0
            st[4] = np.uint64(1)
            st[16] = np.uint64(0x8000000000000000)
            _permute(st, rc)
        for i in range(4):
            out[k, i] = st[i]


def _hash_up(lanes, octets, first, last, rc):  # pragma: no cover - compiled
    """Fills nodes `last` .. `first` of a tree array: node i is the keccak of its children
    2i + 1 and 2i + 2 in ascending byte order (`octets` is `lanes` seen as bytes)."""
    st = np.zeros(25, np.uint64)
    for node in range(last, first - 1, -1):
        a, b = 2 * node + 1, 2 * node + 2
        for i in range(32):
            if octets[a, i] != octets[b, i]:
                if octets[a, i] > octets[b, i]:
                    a, b = b, a
                break
        st[:] = 0
        for i in range(4):
            st[i] = lanes[a, i]
            st[4 + i] = lanes[b, i]
        st[8] = np.uint64(1)
        st[16] = np.uint64(0x8000000000000000)
        _permute(st, rc)
        for i in range(4):
            lanes[node, i] = st[i]


def _compile() -> None:
    """Compiles the kernels (or loads them from numba's cache, next to this file) once."""
    global _compiled, _rotl, _permute, _rows, _hash_up
    with _lock:
        if _compiled:
            return
        from numba import njit

        # NOTE: in this order: each kernel finds the compiled ones it calls as module globals.
        _rotl = njit(cache=True, inline="always")(_rotl)
        _permute = njit(cache=True, nogil=True)(_permute)
        _rows = njit(cache=True, nogil=True)(_rows)
        _hash_up = njit(cache=True, nogil=True)(_hash_up)
        _compiled = True


def pad(rows: np.ndarray) -> np.ndarray:
    """Messages of one length, the rows of a (n, length) uint8 array, as padded Keccak-256
    blocks: a (n, 17 x blocks) uint64 array."""
    count, length = rows.shape
    size = (length // RATE + 1) * RATE
    blocks = np.zeros((count, size), np.uint8)
    blocks[:, :length] = rows
    blocks[:, length] ^= 0x01
    blocks[:, size - 1] ^= 0x80
    return blocks.view("<u8")


def keccak_rows(rows: np.ndarray, twice: bool = False) -> np.ndarray:
    """Keccak-256 of each row of a (n, length) uint8 array, as a (n, 32) uint8 array; `twice`:
    the keccak of each digest (OpenZeppelin's standard leaf of an ABI encoding)."""
    _compile()
    out = np.empty((len(rows), 4), np.uint64)
    if len(rows):
        blocks = pad(rows)
        _split(len(rows), lambda a, b: _rows(blocks[a:b], out[a:b], twice, _RC))
    return out.view(np.uint8)


def leaf_hashes(encoded: list[bytes]) -> np.ndarray:
    """keccak256(keccak256(e)) of each encoding, as a (n, 32) uint8 array, in input order."""
    out = np.empty((len(encoded), 32), np.uint8)
    lengths = np.fromiter(map(len, encoded), np.int64, len(encoded))
    for length in np.unique(lengths).tolist():
        where = np.flatnonzero(lengths == length)
        group = encoded if len(where) == len(encoded) else [encoded[i] for i in where]
        rows = np.frombuffer(b"".join(group), np.uint8).reshape(len(group), length)
        out[where] = keccak_rows(rows, twice=True)
    return out


def hash_up(nodes: np.ndarray, leaf_count: int) -> None:
    """Fills the internal nodes of a (2n - 1, 32) uint8 tree array whose last n rows are leaves."""
    _compile()
    lanes = nodes.view("<u8")
    high = len(nodes) - leaf_count - 1  # the last internal node
    low = (1 << (high + 1).bit_length() - 1) - 1 if high >= 0 else 0
    # NOTE: level by level, [2^k - 1, 2^(k+1) - 2], while levels are large: a level's children
    # lie in the levels below, so its halves can be hashed at the same time; then the rest.
    while high - low + 1 >= SPLIT:
        _split(high - low + 1, lambda a, b, lo=low: _hash_up(lanes, nodes, lo + a, lo + b - 1, _RC))
        high, low = low - 1, (low - 1) // 2
    if high >= 0:
        _hash_up(lanes, nodes, 0, high, _RC)


def _split(count: int, work) -> None:
    """Runs `work(start, end)` over [0, count): in two halves on two threads when there are
    two cores and at least `SPLIT` items (the kernels release the GIL), else at once."""
    global _pool
    if count < SPLIT or THREADS < 2:
        work(0, count)
        return
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(THREADS, thread_name_prefix="keccak")
    step = -(-count // THREADS)
    for future in [_pool.submit(work, a, min(count, a + step)) for a in range(0, count, step)]:
        future.result()

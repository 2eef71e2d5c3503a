"""expr's random draws, bit for bit, for the twins that should see expr's very examples:
rand_chacha 0.3's ChaCha8Rng (seeded by rand_core 0.6's `seed_from_u64`, PCG32), rand
0.8's `gen::<f32>()` and `gen_range` (the widening-multiply sampler), expr's
`shuffle_order` (src/data/pipeline.rs), the permutation of `split(..., shuffle = true)`
(src/run/examples.rs) and `adding_problem` (src/data/synthetic.rs).
"""
import numpy as np

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF


def _pcg32_words(state):
    """rand_core's seed_from_u64: eight PCG32 outputs (little-endian words) as the key."""
    words = []
    for _ in range(8):
        state = (state * 6364136223846793005 + 11634580027462260723) & M64
        xorshifted = (((state >> 18) ^ state) >> 27) & M32
        rot = state >> 59
        words.append(((xorshifted >> rot) | (xorshifted << ((32 - rot) & 31))) & M32)
    return words


def _rotl(x, n):
    return (x << np.uint32(n)) | (x >> np.uint32(32 - n))


def _quarter(s, a, b, c, d):
    s[a] += s[b]; s[d] ^= s[a]; s[d] = _rotl(s[d], 16)
    s[c] += s[d]; s[b] ^= s[c]; s[b] = _rotl(s[b], 12)
    s[a] += s[b]; s[d] ^= s[a]; s[d] = _rotl(s[d], 8)
    s[c] += s[d]; s[b] ^= s[c]; s[b] = _rotl(s[b], 7)


class ChaCha8:
    """ChaCha8Rng::seed_from_u64(seed), then set_stream(stream): a stream of u32 words."""

    CHUNK = 1024  # blocks computed at once

    def __init__(self, seed, stream=0, double_rounds=4, key=None):
        self.key = key if key is not None else _pcg32_words(seed & M64)
        self.double_rounds = double_rounds
        self.stream = stream & M64
        self.block = 0
        self.words = []
        self.i = 0

    def _refill(self):
        n = self.CHUNK
        counter = np.arange(self.block, self.block + n, dtype=np.uint64)
        self.block += n
        init = np.empty((16, n), dtype=np.uint32)
        init[0:4] = np.array([0x61707865, 0x3320646E, 0x79622D32, 0x6B206574], dtype=np.uint32)[:, None]
        init[4:12] = np.array(self.key, dtype=np.uint32)[:, None]
        init[12] = (counter & np.uint64(M32)).astype(np.uint32)
        init[13] = (counter >> np.uint64(32)).astype(np.uint32)
        init[14] = self.stream & M32
        init[15] = self.stream >> 32
        s = [row.copy() for row in init]
        with np.errstate(over="ignore"):
            for _ in range(self.double_rounds):  # 4: ChaCha8
                _quarter(s, 0, 4, 8, 12); _quarter(s, 1, 5, 9, 13)
                _quarter(s, 2, 6, 10, 14); _quarter(s, 3, 7, 11, 15)
                _quarter(s, 0, 5, 10, 15); _quarter(s, 1, 6, 11, 12)
                _quarter(s, 2, 7, 8, 13); _quarter(s, 3, 4, 9, 14)
            out = np.stack(s) + init
        self.words = out.T.reshape(-1).tolist()  # block by block, word by word
        self.i = 0

    def next_u32(self):
        if self.i >= len(self.words):
            self._refill()
        w = self.words[self.i]
        self.i += 1
        return w

    def next_u32s(self, n):
        """The next n words, as a list."""
        while len(self.words) - self.i < n:
            rest = self.words[self.i:]
            self._refill()
            self.words = rest + self.words
        out = self.words[self.i:self.i + n]
        self.i += n
        return out

    def next_u64(self):
        lo = self.next_u32()
        return lo | (self.next_u32() << 32)

    def f32(self):
        """rand's Standard f32: the top 24 bits of a u32 over 2^24, in [0, 1)."""
        return np.float32(self.next_u32() >> 8) * np.float32(1.0 / (1 << 24))

    def gen_range(self, low, high):
        """rand 0.8's `gen_range(low..high)` for u64 and usize: widening multiply with
        the conservative rejection zone."""
        r = high - low
        zone = ((r << (64 - r.bit_length())) & M64) - 1
        while True:
            p = self.next_u64() * r
            if (p & M64) <= zone:
                return low + (p >> 64)


def shuffle_order(n, rng):
    """expr's `shuffle_order(n, buffer = n, rng)`: a full shuffle by swap_remove."""
    pool = list(range(n))
    order = []
    while pool:
        slot = 0 if len(pool) == 1 else rng.gen_range(0, len(pool))
        last = pool.pop()
        if slot < len(pool):
            last, pool[slot] = pool[slot], last
        order.append(last)
    return order


def split_order(n, seed, position=0):
    """The permutation of 0..n that expr's `split(f, shuffle = true)` cuts, for a split at
    `position` in its data set's list of take/skip/split (0: the first)."""
    return np.array(shuffle_order(n, ChaCha8(seed, 0x5350_4C49_5400_0000 | position)), dtype=np.int64)


def adding_problem(length, examples, seed):
    """expr's adding_problem: (examples, 2, length) float32 inputs, (examples, 1) targets."""
    rng = ChaCha8(seed)
    half = length // 2
    x = np.zeros((examples, 2, length), dtype=np.float32)
    y = np.zeros((examples, 1), dtype=np.float32)
    scale = np.float32(1.0 / (1 << 24))
    for e in range(examples):
        x[e, 0] = (np.array(rng.next_u32s(length), dtype=np.uint32) >> 8).astype(np.float32) * scale
        first = rng.gen_range(0, half)
        second = rng.gen_range(half, length)
        x[e, 1, first] = 1.0
        x[e, 1, second] = 1.0
        y[e, 0] = x[e, 0, first] + x[e, 0, second]
    return x, y

"""Merkle tree math of RFC 9162 §2.1 over the ledger's entries: pure functions, standard library only.

Leaf hash = SHA-256(0x00 ‖ data), node hash = SHA-256(0x01 ‖ left ‖ right); the leaf data of ledger entry
number seq (leaf index seq - 1) is the canonical JSON of its body (tracker.ledger.chain.entry_body).

A complete subtree is addressed as (level, index): the 2**level leaves from leaf index * 2**level. Every
subtree the RFC's recursion visits is a run of complete subtrees of decreasing size, so the root, an audit
path or a consistency proof is O(log n) complete-subtree hashes. A store that keeps those (filled as leaves
are appended, see tracker.ledger.tree) answers any proof with O(log n) lookups, never rebuilding the tree.
"""
import hashlib

EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof was asked for sizes or indexes that do not exist."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n):
    """The largest power of two smaller than n (n >= 2): where RFC 9162 splits D[n]."""
    return 1 << ((n - 1).bit_length() - 1)


def subtrees(lo, hi):
    """The complete subtrees (level, index) that make up D[lo:hi], left to right, largest first."""
    out = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1
        if lo % (1 << level):
            raise ProofError(f"D[{lo}:{hi}] is not a subtree of an RFC 9162 tree")
        out.append((level, lo >> level))
        lo += 1 << level
    return out


def fold(hashes):
    """MTH of a run of complete subtrees (largest first), as the RFC's recursion combines them."""
    if not hashes:
        return EMPTY_ROOT
    h = hashes[-1]
    for left in reversed(hashes[:-1]):
        h = node_hash(left, h)
    return h


def range_hash(lo, hi, get):
    """MTH(D[lo:hi]) from get(level, index) -> hash of a complete subtree."""
    return fold([get(level, index) for level, index in subtrees(lo, hi)])


def root(size, get):
    return range_hash(0, size, get)


def inclusion_ranges(index, size):
    """The subtrees D[lo:hi] whose hashes form PATH(index, D[size]) (RFC 9162 §2.1.3.1), leaf end first."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size}")
    out, lo, hi = [], 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo += k
    return out[::-1]


def consistency_ranges(first, second):
    """The subtrees D[lo:hi] whose hashes form PROOF(first, D[second]) (RFC 9162 §2.1.4.1), in proof order."""
    if not 0 < first <= second:
        raise ProofError(f"no consistency proof from {first} to {second}")
    out, lo, hi, m, whole = [], 0, second, first, True
    while True:
        if m == hi - lo:
            if not whole:
                out.append((lo, hi))
            break
        k = _split(hi - lo)
        if m <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    return out[::-1]


def needed_nodes(ranges):
    """Every complete subtree a list of ranges is made of: what a store must look up for one proof."""
    return {node for lo, hi in ranges for node in subtrees(lo, hi)}


def inclusion_proof(index, size, get):
    return [range_hash(lo, hi, get) for lo, hi in inclusion_ranges(index, size)]


def consistency_proof(first, second, get):
    return [range_hash(lo, hi, get) for lo, hi in consistency_ranges(first, second)]


def verify_inclusion(leaf, index, size, path, root_hash):
    """RFC 9162 §2.1.3.2: does `path` prove `leaf` at `index` in the tree of `size` with `root_hash`?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root_hash


def verify_consistency(first, second, first_root, second_root, path):
    """RFC 9162 §2.1.4.2: is the tree of `first` with `first_root` a prefix of the tree of `second`?"""
    if not 0 <= first <= second:
        return False
    if first == second:
        return not path and first_root == second_root
    if first == 0:
        return not path  # the empty tree is a prefix of every tree
    if not path:
        return False
    path = list(path)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0


class Frontier:
    """The right edge of a growing tree (a compact range over [0, size)): O(log n) memory, for streaming.

    append() returns the complete subtrees the new leaf completes, as (level, index, hash), lowest first:
    exactly the nodes a store keeps.
    """

    def __init__(self):
        self.size = 0
        self._edge = []  # (level, hash), levels strictly decreasing: subtrees(0, size)

    def append(self, leaf):
        level, index, h = 0, self.size, leaf
        made = [(0, index, leaf)]
        while self._edge and self._edge[-1][0] == level:
            h = node_hash(self._edge.pop()[1], h)
            level, index = level + 1, index >> 1
            made.append((level, index, h))
        self._edge.append((level, h))
        self.size += 1
        return made

    def root(self):
        return fold([h for _level, h in self._edge])


def left_siblings(index):
    """The (level, index) of the complete subtrees that leaf `index` joins as it is appended."""
    out, level = [], 0
    while (index >> level) & 1:
        out.append((level, (index >> level) - 1))
        level += 1
    return out


def join(index, leaf, siblings):
    """The nodes leaf `index` completes: (level, index, hash) from level 0 up, given its left siblings' hashes."""
    made, h = [(0, index, leaf)], leaf
    for level, (sib_level, sib_index) in enumerate(left_siblings(index)):
        h = node_hash(siblings[(sib_level, sib_index)], h)
        made.append((level + 1, sib_index >> 1, h))
    return made

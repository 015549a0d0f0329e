"""Merkle math (tracker.ledger.merkle) against the RFC 6962 test vectors and an independent naive implementation."""
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.ledger import merkle

# The RFC 6962 test tree (certificate-transparency-go / trillian / transparency-dev/merkle testonly).
INPUTS = [bytes.fromhex(h) for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                     "606162636465666768696a6b6c6d6e6f"]]
ROOTS = [  # by tree size 0..8
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
NODES = [  # every complete subtree of the 8-leaf tree, by level then index
    ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
     "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
     "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
     "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
     "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
     "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
     "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
     "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"],
    ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
     "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
     "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
     "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"],
    ["d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
     "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]
# (leaf index, tree size, audit path) and (first, second, consistency path), as published.
INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (0, 1, []),
]
CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]


# --- an independent, naive implementation: RFC 9162 §2.1 read literally, recursion on lists -----------------------

def H(b):
    return hashlib.sha256(b).digest()


def naive_mth(data):
    n = len(data)
    if n == 0:
        return H(b"")
    if n == 1:
        return H(b"\x00" + data[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return H(b"\x01" + naive_mth(data[:k]) + naive_mth(data[k:]))


def naive_path(m, data):
    n = len(data)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return naive_path(m, data[:k]) + [naive_mth(data[k:])]
    return naive_path(m - k, data[k:]) + [naive_mth(data[:k])]


def naive_subproof(m, data, b):
    n = len(data)
    if m == n:
        return [] if b else [naive_mth(data)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return naive_subproof(m, data[:k], b) + [naive_mth(data[k:])]
    return naive_subproof(m - k, data[k:], False) + [naive_mth(data[:k])]


def naive_proof(m, data):
    return naive_subproof(m, data, True)


def store(data):
    """The nodes a database would hold after appending `data` leaf by leaf."""
    nodes, frontier = {}, merkle.Frontier()
    for d in data:
        for level, index, h in frontier.append(merkle.leaf_hash(d)):
            nodes[(level, index)] = h
    return nodes, frontier


MAX = 70
DATA = [f"entry {i}".encode() for i in range(MAX)]
STORE, _ = store(DATA)


def get(level, index):
    return STORE[(level, index)]


# --- known vectors ------------------------------------------------------------------------------------------------------


def test_roots_of_the_rfc_test_tree():
    assert merkle.EMPTY_ROOT.hex() == ROOTS[0]
    for n in range(1, 9):
        nodes, frontier = store(INPUTS[:n])
        assert frontier.root().hex() == ROOTS[n]
        assert merkle.root(n, lambda lv, ix: nodes[(lv, ix)]).hex() == ROOTS[n]
        assert naive_mth(INPUTS[:n]).hex() == ROOTS[n]


def test_stored_nodes_are_the_published_complete_subtrees():
    nodes, _ = store(INPUTS)
    assert {k: v.hex() for k, v in nodes.items()} == {
        (level, index): h for level, row in enumerate(NODES) for index, h in enumerate(row)}


@pytest.mark.parametrize("index,size,path", INCLUSION)
def test_inclusion_vectors(index, size, path):
    nodes, _ = store(INPUTS[:size])
    got = merkle.inclusion_proof(index, size, lambda lv, ix: nodes[(lv, ix)])
    assert [h.hex() for h in got] == path
    leaf = merkle.leaf_hash(INPUTS[index])
    root = bytes.fromhex(ROOTS[size])
    assert merkle.verify_inclusion(leaf, index, size, got, root)


@pytest.mark.parametrize("first,second,path", CONSISTENCY)
def test_consistency_vectors(first, second, path):
    nodes, _ = store(INPUTS[:second])
    got = merkle.consistency_proof(first, second, lambda lv, ix: nodes[(lv, ix)])
    assert [h.hex() for h in got] == path
    assert merkle.verify_consistency(first, second, bytes.fromhex(ROOTS[first]), bytes.fromhex(ROOTS[second]), got)


@pytest.mark.parametrize("index,size,path", INCLUSION[:4])
def test_corrupted_inclusion_proofs_fail(index, size, path):
    """The probes of transparency-dev/merkle's verifier tests."""
    proof = [bytes.fromhex(h) for h in path]
    leaf, root = merkle.leaf_hash(INPUTS[index]), bytes.fromhex(ROOTS[size])
    some = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
    probes = [(index - 1, size, leaf, proof, root), (index + 1, size, leaf, proof, root), (index ^ 2, size, leaf, proof, root),
              (index, size * 2, leaf, proof, root), (index, size // 2, leaf, proof, root),
              (index, size, b"WrongLeaf", proof, root), (index, size, leaf, proof, merkle.EMPTY_ROOT),
              (index, size, leaf, proof, some), (index, size, leaf, proof + [b""], root), (index, size, leaf, proof + [root], root),
              (index, size, leaf, [b""] + proof, root), (index, size, leaf, [root] + proof, root), (index, size, leaf, proof[:-1], root),
              (index, size, leaf, proof[:1] + [some] + proof[1:], root)]
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 8]) + bad[i][1:]
        probes.append((index, size, leaf, bad, root))
    for i, n, lf, p, r in probes:
        assert not merkle.verify_inclusion(lf, i, n, p, r), (i, n, lf, p, r)


@pytest.mark.parametrize("first,second,path", CONSISTENCY[1:])
def test_corrupted_consistency_proofs_fail(first, second, path):
    proof = [bytes.fromhex(h) for h in path]
    r1, r2 = bytes.fromhex(ROOTS[first]), bytes.fromhex(ROOTS[second])
    probes = [(first - 1, second, r1, r2, proof), (first + 1, second, r1, r2, proof), (first ^ 2, second, r1, r2, proof),
              (first, second * 2, r1, r2, proof), (first, second // 2, r1, r2, proof), (first, second, b"WrongRoot", r2, proof),
              (first, second, r1, b"WrongRoot", proof), (first, second, r2, r1, proof), (first, second, r1, r2, []),
              (first, second, r1, r2, proof + [b""]), (first, second, r1, r2, proof + [r1]), (first, second, r1, r2, proof + [r2]),
              (first, second, r1, r2, [b""] + proof), (first, second, r1, r2, [r1] + proof), (first, second, r1, r2, [r2] + proof),
              (first, second, r1, r2, proof[:1] + proof), (first, second, r1, r2, proof[:-1])]
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 16]) + bad[i][1:]
        probes.append((first, second, r1, r2, bad))
    for probe in probes:
        assert not merkle.verify_consistency(*probe), probe


def test_trivial_and_impossible_consistency():
    r = merkle.EMPTY_ROOT
    assert merkle.verify_consistency(0, 0, r, r, [])
    assert merkle.verify_consistency(0, 5, r, b"anything", [])
    assert merkle.verify_consistency(3, 3, b"x", b"x", [])
    assert not merkle.verify_consistency(3, 3, b"x", b"y", [])
    assert not merkle.verify_consistency(3, 3, b"x", b"x", [r])
    assert not merkle.verify_consistency(2, 1, r, r, [])
    with pytest.raises(merkle.ProofError):
        merkle.consistency_ranges(0, 3)
    with pytest.raises(merkle.ProofError):
        merkle.consistency_ranges(4, 3)
    with pytest.raises(merkle.ProofError):
        merkle.inclusion_ranges(3, 3)


def test_a_proof_is_a_handful_of_lookups():
    """O(log n) lookups of complete subtrees: at most 2·log2(n) for any proof in a tree of a million leaves."""
    n = 1_000_003
    for index in (0, 1, n // 2, n - 2, n - 1):
        assert len(merkle.needed_nodes(merkle.inclusion_ranges(index, n))) <= 2 * 20
    for first in (1, 7, 524_288, n - 1):
        assert len(merkle.needed_nodes(merkle.consistency_ranges(first, n))) <= 2 * 20


def test_subtrees_must_be_aligned():
    assert merkle.subtrees(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert merkle.subtrees(8, 13) == [(2, 2), (0, 12)]
    with pytest.raises(merkle.ProofError):
        merkle.subtrees(1, 5)


# --- properties -------------------------------------------------------------------------------------------------------


@settings(max_examples=200, database=None, deadline=None)
@given(data=st.data())
def test_property_any_leaf_of_any_tree_proves_inclusion(data):
    size = data.draw(st.integers(1, MAX), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = merkle.inclusion_proof(index, size, get)
    assert proof == naive_path(index, DATA[:size])
    root = merkle.root(size, get)
    assert root == naive_mth(DATA[:size])
    assert merkle.verify_inclusion(merkle.leaf_hash(DATA[index]), index, size, proof, root)
    # another leaf, index or size does not verify
    other = data.draw(st.integers(0, size - 1).filter(lambda i: DATA[i] != DATA[index]) if size > 1 else st.none(), label="other")
    if other is not None:
        assert not merkle.verify_inclusion(merkle.leaf_hash(DATA[other]), index, size, proof, root)
        assert not merkle.verify_inclusion(merkle.leaf_hash(DATA[index]), other, size, proof, root)
    if size < MAX:
        assert not merkle.verify_inclusion(merkle.leaf_hash(DATA[index]), index, size + 1, proof, merkle.root(size + 1, get))


@settings(max_examples=200, database=None, deadline=None)
@given(data=st.data())
def test_property_consistency_between_any_two_sizes(data):
    second = data.draw(st.integers(1, MAX), label="second")
    first = data.draw(st.integers(1, second), label="first")
    proof = merkle.consistency_proof(first, second, get)
    if first < second:
        assert proof == naive_proof(first, DATA[:second])
    r1, r2 = merkle.root(first, get), merkle.root(second, get)
    assert merkle.verify_consistency(first, second, r1, r2, proof)
    # a rewritten history (one old entry changed) is not consistent
    i = data.draw(st.integers(0, first - 1), label="rewritten")
    forged = list(DATA[:first])
    forged[i] = b"forged"
    assert not merkle.verify_consistency(first, second, naive_mth(forged), r2, proof)


@settings(max_examples=300, database=None, deadline=None)
@given(data=st.data())
def test_property_any_tampered_byte_fails(data):
    size = data.draw(st.integers(2, MAX), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    first = data.draw(st.integers(1, size - 1), label="first")
    leaf, root, r1 = merkle.leaf_hash(DATA[index]), merkle.root(size, get), merkle.root(first, get)
    inc, con = merkle.inclusion_proof(index, size, get), merkle.consistency_proof(first, size, get)
    target = data.draw(st.sampled_from(["leaf", "root", "path", "old_root", "cpath"]), label="target")
    byte, mask = data.draw(st.integers(0, 31), label="byte"), data.draw(st.integers(1, 255), label="mask")

    def flip(h):
        return h[:byte] + bytes([h[byte] ^ mask]) + h[byte + 1:]

    if target == "leaf":
        assert not merkle.verify_inclusion(flip(leaf), index, size, inc, root)
    elif target == "root":
        assert not merkle.verify_inclusion(leaf, index, size, inc, flip(root))
        assert not merkle.verify_consistency(first, size, r1, flip(root), con)
    elif target == "path" and inc:
        k = data.draw(st.integers(0, len(inc) - 1), label="element")
        assert not merkle.verify_inclusion(leaf, index, size, inc[:k] + [flip(inc[k])] + inc[k + 1:], root)
    elif target == "old_root":
        assert not merkle.verify_consistency(first, size, flip(r1), root, con)
    elif target == "cpath":
        k = data.draw(st.integers(0, len(con) - 1), label="element")
        assert not merkle.verify_consistency(first, size, r1, root, con[:k] + [flip(con[k])] + con[k + 1:])

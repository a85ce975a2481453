#!/usr/bin/env python3
"""Cross-checks runledger's Merkle tree against an independent RFC 9162 model.

Usage: merkle_vectors.py PATH/TO/merkle_vectors

Runs the C++ program, which prints for each tree size one line
    size TAB root TAB leaf_index TAB inclusion_path TAB old_size TAB consistency_path
(leaf i = SHA-256(0x00 || "leaf-<i>"), hex hashes, paths comma-joined) and
checks every root, every path against RFC 9162 2.1.3 / 2.1.4 as defined, and
every path with the RFC's verification algorithms (2.1.3.2, 2.1.4.2).
Python standard library only. Prints "N passed, 0 failed" or exits non-zero
naming the first mismatch.
"""

import hashlib
import subprocess
import sys


def sha256(data):
    return hashlib.sha256(data).digest()


def leaf_hash(data):
    return sha256(b"\x00" + data)


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


def largest_power_of_two_below(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class Tree:
    def __init__(self, leaves):
        self.leaves = leaves
        self.memo = {}

    def mth(self, a, b):
        """MTH(D[a:b])."""
        if b == a:
            return sha256(b"")
        if b - a == 1:
            return self.leaves[a]
        if (a, b) not in self.memo:
            k = largest_power_of_two_below(b - a)
            self.memo[(a, b)] = node_hash(self.mth(a, a + k), self.mth(a + k, b))
        return self.memo[(a, b)]

    def path(self, m, a, b):
        """PATH(m, D[a:b])."""
        if b - a == 1:
            return []
        k = largest_power_of_two_below(b - a)
        if m < k:
            return self.path(m, a, a + k) + [self.mth(a + k, b)]
        return self.path(m - k, a + k, b) + [self.mth(a, a + k)]

    def subproof(self, m, a, b, complete):
        """SUBPROOF(m, D[a:b], b)."""
        if m == b - a:
            return [] if complete else [self.mth(a, b)]
        k = largest_power_of_two_below(b - a)
        if m <= k:
            return self.subproof(m, a, a + k, complete) + [self.mth(a + k, b)]
        return self.subproof(m - k, a + k, b, False) + [self.mth(a, a + k)]


def verify_inclusion(leaf, index, size, path, root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_hash, second_hash, path):
    """RFC 9162 section 2.1.4.2 (for 0 < first < second)."""
    if not path:
        return False
    if first & (first - 1) == 0:
        path = [first_hash] + path
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0


def parse_path(field):
    return [bytes.fromhex(h) for h in field.split(",")] if field else []


def check_line(tree, line):
    """Yields (name, ok) for every check on one output line."""
    fields = line.split("\t")
    if len(fields) != 6:
        yield "line has 6 fields: %r" % line, False
        return
    size, root = int(fields[0]), bytes.fromhex(fields[1])
    index, inclusion = int(fields[2]), parse_path(fields[3])
    old_size, consistency = int(fields[4]), parse_path(fields[5])
    where = "size %d" % size
    expected_root = tree.mth(0, size)
    yield where + ": root", root == expected_root
    yield where + ": inclusion path of leaf %d is PATH" % index, inclusion == tree.path(index, 0, size)
    yield where + ": inclusion of leaf %d verifies" % index, verify_inclusion(
        tree.leaves[index], index, size, inclusion, expected_root)
    if inclusion:
        tampered = list(inclusion)
        tampered[-1] = bytes([tampered[-1][0] ^ 1]) + tampered[-1][1:]
        yield where + ": tampered inclusion path fails", not verify_inclusion(
            tree.leaves[index], index, size, tampered, expected_root)
    if old_size == size:
        yield where + ": consistency with itself is empty", consistency == []
        return
    yield where + ": consistency from %d is PROOF" % old_size, consistency == tree.subproof(
        old_size, 0, size, True)
    yield where + ": consistency from %d verifies" % old_size, verify_consistency(
        old_size, size, tree.mth(0, old_size), expected_root, consistency)
    tampered = list(consistency)
    tampered[0] = bytes([tampered[0][0] ^ 1]) + tampered[0][1:]
    yield where + ": tampered consistency path fails", not verify_consistency(
        old_size, size, tree.mth(0, old_size), expected_root, tampered)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    output = subprocess.run([sys.argv[1]], check=True, capture_output=True, text=True).stdout
    lines = output.splitlines()
    if not lines:
        print("FAIL: the program printed nothing", file=sys.stderr)
        return 1
    tree = Tree([leaf_hash(b"leaf-%d" % i) for i in range(len(lines))])
    passed = 0
    for line in lines:
        for name, ok in check_line(tree, line):
            if not ok:
                print("FAIL: %s (after %d passed)" % (name, passed), file=sys.stderr)
                return 1
            passed += 1
    print("%d passed, 0 failed" % passed)
    return 0


if __name__ == "__main__":
    sys.exit(main())

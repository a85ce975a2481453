#!/usr/bin/env python3
"""Verifies a runledger export bundle with the Python standard library only.

An auditor's independent check (SPEC section 6), no runledger binary needed:

    verify_export.py BUNDLE.ndjson KEY.pem [--trusted CP.json]

recomputes every full event's leaf hash (SHA-256 of 0x00 + the event's
canonical JSON without "hash"), the checkpoint root from the trailer's
left/right subtree hashes and the lines' leaf hashes (RFC 9162), the key id,
the Ed25519 signature (with `openssl pkeyutl -verify -rawin`; skipped, and
said so, when no openssl is on PATH) and, given a trusted checkpoint, the
consistency proof. Canonical JSON here is json.dumps(sort_keys=True,
separators=(',', ':'), ensure_ascii=False), which equals RFC 8785 when
numbers are integers and keys are not above U+FFFF; for other data use a JCS
library.

    verify_export.py --selftest EXPORT_BUNDLE_BINARY

is the ctest: it runs the C++ bundle writer, verifies its bundles, and checks
that single-byte changes are caught.
"""

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile


class Invalid(Exception):
    pass


def sha256(data):
    return hashlib.sha256(data).digest()


def node(left, right):
    return sha256(b"\x01" + left + right)


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def lower_hex(text, what, line):
    if not isinstance(text, str) or len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise Invalid(f"line {line}: {what} is not 64 lowercase hex characters")
    return bytes.fromhex(text)


def cover(begin, end):
    """Widths of the RFC 9162 aligned subtrees covering leaves [begin, end)."""
    widths = []
    a = begin
    while a < end:
        fits = 1 << ((end - a).bit_length() - 1)
        width = min(fits, a & -a) if a else fits
        widths.append(width)
        a += width
    return widths


class Frontier:
    """Roots of the perfect subtrees appended so far, left to right."""

    def __init__(self):
        self.stack = []  # (width, hash)
        self.size = 0

    def append(self, width, digest):
        self.size += width
        while self.stack and self.stack[-1][0] == width:
            _, left = self.stack.pop()
            digest = node(left, digest)
            width *= 2
        self.stack.append((width, digest))

    def root(self):
        if not self.stack:
            return sha256(b"")
        digest = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            digest = node(left, digest)
        return digest


def verify_consistency(old_size, new_size, old_root, new_root, path):
    """RFC 9162 section 2.1.4.2."""
    if old_size == new_size:
        return not path and old_root == new_root
    if old_size == 0 or old_size > new_size or not path:
        return old_size == 0 and not path and old_root == sha256(b"")
    if old_size & (old_size - 1) == 0:
        path = [old_root] + path
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node(c, fr)
            sr = node(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


def key_id(pem):
    body = "".join(l for l in pem.splitlines() if l and not l.startswith("-----"))
    return hashlib.sha256(base64.b64decode(body)).hexdigest()


def check_signature(cp, key_path):
    """True / False, or None when openssl is not available."""
    openssl = shutil.which("openssl")
    if not openssl:
        return None
    message = f"runledger-checkpoint\n{cp['size']}\n{cp['root']}\n{cp['recorded_at']}\n"
    with tempfile.TemporaryDirectory() as tmp:
        msg, sig = os.path.join(tmp, "msg"), os.path.join(tmp, "sig")
        with open(msg, "wb") as f:
            f.write(message.encode("utf-8"))
        with open(sig, "wb") as f:
            f.write(base64.b64decode(cp["signature"], validate=True))
        result = subprocess.run([openssl, "pkeyutl", "-verify", "-pubin", "-inkey", key_path,
                                 "-rawin", "-in", msg, "-sigfile", sig], capture_output=True)
        return result.returncode == 0


def verify(bundle_path, key_path, trusted=None):
    """Returns a summary dict; raises Invalid("line N: why")."""
    with open(key_path, encoding="utf-8") as f:
        pem = f.read()
    with open(bundle_path, "rb") as f:
        lines = f.read().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()

    def parse(n):
        if n > len(lines):
            raise Invalid(f"line {n}: the bundle ends here: it was truncated")
        try:
            return json.loads(lines[n - 1].decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise Invalid(f"line {n}: not JSON ({e})")

    header = parse(1)["export"]
    first, last = header["first"], header["last"]
    leaves = []
    full = 0
    for n, position in enumerate(range(first, last + 1), start=2):
        line = parse(n)
        if line.get("position") != position:
            raise Invalid(f"line {n}: position {line.get('position')}, expected {position}")
        if "hash" in line:
            claimed = lower_hex(line.pop("hash"), "hash", n)
            leaf = sha256(b"\x00" + canonical(line))
            if leaf != claimed:
                raise Invalid(f"line {n}: the event's content does not match its hash")
            full += 1
        else:
            if set(line) != {"position", "leaf_hash"}:
                raise Invalid(f"line {n}: neither an event nor a leaf_hash line")
            leaf = lower_hex(line["leaf_hash"], "leaf_hash", n)
        leaves.append(leaf)
    n = last - first + 3
    trailer = parse(n)
    if "checkpoint" not in trailer:
        raise Invalid(f"line {n}: expected the trailer")
    if any(line.strip() for line in lines[n:]):
        raise Invalid(f"line {n + 1}: content after the trailer")
    cp = trailer["checkpoint"]
    frontier = Frontier()
    left, right = trailer["left"], trailer["right"]
    if len(left) != len(cover(0, first - 1)) or len(right) != len(cover(last, cp["size"])):
        raise Invalid(f"line {n}: left/right are not the covers the range needs")
    for width, h in zip(cover(0, first - 1), left):
        frontier.append(width, lower_hex(h, "left", n))
    for leaf in leaves:
        frontier.append(1, leaf)
    for width, h in zip(cover(last, cp["size"]), right):
        frontier.append(width, lower_hex(h, "right", n))
    if frontier.size != cp["size"] or frontier.root().hex() != cp["root"]:
        raise Invalid(f"line {n}: the leaves do not hash to the checkpoint's root")
    if cp["key_id"] != key_id(pem):
        raise Invalid(f"line {n}: the checkpoint was not signed by this key")
    signature = check_signature(cp, key_path)
    if signature is False:
        raise Invalid(f"line {n}: the checkpoint's signature does not verify")
    if trusted is not None:
        path = [lower_hex(h, "consistency", n) for h in trailer.get("consistency", [])]
        if trailer.get("since_size") != trusted["size"] or not verify_consistency(
                trusted["size"], cp["size"], bytes.fromhex(trusted["root"]), bytes.fromhex(cp["root"]), path):
            raise Invalid(f"line {n}: the checkpoint does not extend the trusted checkpoint")
    return {"first": first, "last": last, "events": full, "leaf_hashes": len(leaves) - full,
            "checkpoint_size": cp["size"], "root": cp["root"],
            "signature": "verified" if signature else "NOT CHECKED (no openssl on PATH)"}


def expect_invalid(bundle_path, key_path, tamper, line_no):
    with open(bundle_path, "rb") as f:
        data = f.read()
    with tempfile.NamedTemporaryFile(suffix=".ndjson", delete=False) as f:
        f.write(tamper(data))
        path = f.name
    try:
        verify(path, key_path)
    except Invalid as e:
        if not str(e).startswith(f"line {line_no}:"):
            sys.exit(f"FAIL: tampering was caught at the wrong line: {e}")
        return
    finally:
        os.unlink(path)
    sys.exit("FAIL: a tampered bundle verified")


def selftest(binary):
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([binary, out], check=True)
        key = os.path.join(out, "key.pem")
        with open(os.path.join(out, "trusted.json"), encoding="utf-8") as f:
            trusted = json.load(f)
        whole = verify(os.path.join(out, "whole.ndjson"), key)
        run = verify(os.path.join(out, "run.ndjson"), key, trusted)
        mid = verify(os.path.join(out, "range.ndjson"), key)
        if (whole["leaf_hashes"] != 0 or run["leaf_hashes"] == 0 or run["events"] == 0
                or (mid["first"], mid["last"]) != (46, 80) or mid["checkpoint_size"] <= 80):
            sys.exit(f"FAIL: unexpected bundle shapes {whole} {run} {mid}")
        bundle = os.path.join(out, "run.ndjson")
        with open(bundle, "rb") as f:
            lines = f.read().split(b"\n")
        full = next(i for i, l in enumerate(lines) if b'"hash"' in l) + 1
        stub = next(i for i, l in enumerate(lines) if b'"leaf_hash"' in l) + 1

        def flip(line_no, needle, replacement):
            def tamper(data):
                parts = data.split(b"\n")
                parts[line_no - 1] = parts[line_no - 1].replace(needle, replacement, 1)
                return b"\n".join(parts)
            return tamper

        expect_invalid(bundle, key, flip(full, b'"info"', b'"infp"'), full)
        expect_invalid(bundle, key, flip(stub, b'"leaf_hash":"', b'"leaf_hash":"0'), stub)
        expect_invalid(bundle, key, lambda d: d[: d.rfind(b"\n", 0, len(d) - 1) + 1], len(lines) - 1)
        print(f"ok: whole {whole}")
        print(f"ok: run   {run}")
        print(f"ok: range {mid}")


def main(argv):
    if len(argv) == 3 and argv[1] == "--selftest":
        return selftest(argv[2])
    if len(argv) not in (3, 5) or (len(argv) == 5 and argv[3] != "--trusted"):
        sys.exit(__doc__)
    trusted = None
    if len(argv) == 5:
        with open(argv[4], encoding="utf-8") as f:
            trusted = json.load(f)
    try:
        summary = verify(argv[1], argv[2], trusted)
    except (Invalid, KeyError, TypeError) as e:
        sys.exit(f"FAILED: {e}")
    print(f"ok: {summary}")


if __name__ == "__main__":
    main(sys.argv)

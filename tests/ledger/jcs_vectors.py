#!/usr/bin/env python3
"""Cross-checks runledger's RFC 8785 (JCS) output against an independent one.

Usage: jcs_vectors.py JCS_VECTORS_BINARY INPUTS.jsonl

INPUTS.jsonl holds one JSON text per line (blank lines are skipped). The
binary (tests/ledger/jcs_vectors_main.cc) prints, for each input line,
"<canonical JSON>\t<leaf hash hex>". This script canonicalizes every input
itself, using only the Python standard library, computes the leaf hash
sha256(b"\\x00" + canonical_utf8) (SPEC section 6), and compares. It exits
non-zero and prints the first mismatching line on any difference.
"""

import hashlib
import json
import math
import struct
import subprocess
import sys

MAX_SAFE_INTEGER = 2**53 - 1

SHORT_ESCAPES = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"}


def layout_number(x):
    """ECMAScript Number::toString of a finite double (RFC 8785 3.2.2.3)."""
    if math.isnan(x) or math.isinf(x):
        raise ValueError("JCS has no representation for %r" % x)
    if x == 0:
        return "0"  # -0 too
    # repr gives the shortest digits that round-trip, in one of several
    # layouts ('1e+20', '100.0', '0.0001', '1.5e-07'); reduce it to a digit
    # string and the position of the decimal point, then lay that out again.
    text = repr(x)
    sign = ""
    if text.startswith("-"):
        sign, text = "-", text[1:]
    mantissa, _, exponent = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + (int(exponent) if exponent else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k, n = len(digits), point
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        body = digits[0] + ("." + digits[1:] if k > 1 else "")
        body += "e" + ("+" if e >= 0 else "-") + str(abs(e))
    return sign + body


def layout_string(s):
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif code < 0x20:
            out.append(SHORT_ESCAPES.get(code, "\\u%04x" % code))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def canonical(value):
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return layout_number(value)
    if isinstance(value, str):
        return layout_string(value)
    if isinstance(value, list):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    if isinstance(value, dict):
        # JCS sorts member names by their UTF-16 code units; big-endian
        # UTF-16 bytes compare in the same order.
        members = sorted(value.items(), key=lambda kv: kv[0].encode("utf-16-be"))
        return "{" + ",".join(layout_string(k) + ":" + canonical(v) for k, v in members) + "}"
    raise TypeError("unexpected value %r" % (value,))


def parse_integer(token):
    value = int(token)
    if abs(value) > MAX_SAFE_INTEGER:
        raise ValueError("integer %s is outside I-JSON's range" % token)
    return float(value)


def reject_constant(token):
    raise ValueError("%s is not JSON" % token)


def unique_members(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key")
    return dict(pairs)


def parse(line):
    value = json.loads(line, parse_int=parse_integer, parse_constant=reject_constant,
                       object_pairs_hook=unique_members)
    # Every double must be finite (I-JSON); the ones that overflowed are not.
    check_finite(value)
    return value


def check_finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("number is not a finite double")
    if isinstance(value, list):
        for v in value:
            check_finite(v)
    if isinstance(value, dict):
        for v in value.values():
            check_finite(v)


def leaf_hash(canonical_text):
    return hashlib.sha256(b"\x00" + canonical_text.encode("utf-8")).hexdigest()


def self_check():
    """A few fixed points, so a broken Python side cannot agree with itself."""
    def bits(hex_text):
        return struct.unpack(">d", bytes.fromhex(hex_text))[0]
    samples = [
        ("0000000000000001", "5e-324"),
        ("7fefffffffffffff", "1.7976931348623157e+308"),
        ("4430000000000000", "295147905179352830000"),
        ("444b1ae4d6e2ef50", "1e+21"),
        ("3eb0c6f7a0b5ed8d", "0.000001"),
        ("becbf647612f3696", "-0.0000033333333333333333"),
        ("8000000000000000", "0"),
    ]
    for hex_text, expected in samples:
        actual = layout_number(bits(hex_text))
        if actual != expected:
            sys.exit("self check failed: %s -> %s, expected %s" % (hex_text, actual, expected))
    empty_hash = "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    if leaf_hash("") != empty_hash:
        sys.exit("self check failed: leaf hash of the empty string")


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: jcs_vectors.py JCS_VECTORS_BINARY INPUTS.jsonl")
    binary, inputs_path = argv[1], argv[2]
    self_check()
    with open(inputs_path, encoding="utf-8") as f:
        inputs = [line.rstrip("\n") for line in f if line.strip()]
    run = subprocess.run([binary, inputs_path], capture_output=True, check=False)
    actual_lines = run.stdout.decode("utf-8", errors="replace").split("\n")
    if actual_lines and actual_lines[-1] == "":
        actual_lines.pop()
    passed = 0
    for number, text in enumerate(inputs, start=1):
        try:
            canonical_text = canonical(parse(text))
            expected = canonical_text + "\t" + leaf_hash(canonical_text)
        except ValueError as e:
            print("input %d: the Python side rejects it (%s): %s" % (number, e, text))
            return 1
        actual = actual_lines[number - 1] if number <= len(actual_lines) else "<missing>"
        if actual != expected:
            print("input %d mismatches: %s" % (number, text))
            print("  expected: %s" % expected)
            print("  actual:   %s" % actual)
            print("%d passed, 1 failed (stopped at the first)" % passed)
            return 1
        passed += 1
    if len(actual_lines) != len(inputs) or run.returncode != 0:
        print("binary printed %d lines for %d inputs, exit code %d; stderr: %s"
              % (len(actual_lines), len(inputs), run.returncode,
                 run.stderr.decode("utf-8", errors="replace")))
        return 1
    print("%d passed, 0 failed" % passed)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""Writes corpus.jsonl, the shared schema corpus, deterministically.

Usage: make_corpus.py [OUT]   (default: corpus.jsonl beside this script)

One case per line: {"name", "schema", "instance", "valid"}; "schema" is
"event" (the envelope of POST /v1/runs/{id}/events) or "run" (the run
projection). Expectations follow SPEC sections 2 and 3 and the choices
written down in schemas/README.md, not any implementation. The same file
is fed to the C++ validator, so edit this script and regenerate rather than
editing corpus.jsonl by hand.
"""

import copy
import json
import pathlib
import sys

MAX_SAFE = 9007199254740991  # 2^53 - 1
MESSAGE_MAX = 65536  # bytes of UTF-8; also the schemas' maxLength in code points
ASTRAL = "\U0001F600"  # one code point, two UTF-16 units, four UTF-8 bytes


class Raw:
    """A number written exactly as given (1e2, -0, 1.0E0), which json.dumps cannot spell."""

    def __init__(self, text):
        self.text = text


CASES = []


def case(name, schema, instance, valid, ascii_only=False):
    CASES.append((name, schema, instance, valid, ascii_only))


def ev(type_, data, **extra):
    event = {"type": type_, "data": data}
    event.update(extra)
    return event


def with_(base, **changes):
    out = copy.deepcopy(base)
    out.update(changes)
    return out


def without(base, *keys):
    out = copy.deepcopy(base)
    for key in keys:
        del out[key]
    return out


# ---------------------------------------------------------------- envelope

CREATED = {"operation": "scan", "datastore": {"id": "ds-1"},
           "triggered_by": {"kind": "user", "id": "alice"}}
STARTED = {"worker": "worker-7"}
PROGRESSED = {"processed": 0}
LOGGED = {"level": "info", "message": "scanning orders"}
ENDED = {"status": "success"}
MINIMAL = {"created": CREATED, "started": STARTED, "progressed": PROGRESSED,
           "logged": LOGGED, "ended": ENDED}


def envelope_cases():
    for type_, data in MINIMAL.items():
        case(f"envelope/{type_} minimal", "event", ev(type_, data), True)
    case("envelope/with id and occurred_at", "event",
         ev("started", STARTED, id="evt-1", occurred_at="2026-05-01T12:34:56.789Z"), True)
    case("envelope/missing type", "event", {"data": STARTED}, False)
    case("envelope/missing data", "event", {"type": "started"}, False)
    case("envelope/missing data on ended", "event", {"type": "ended"}, False)
    case("envelope/empty object", "event", {}, False)
    case("envelope/not an object", "event", [ev("started", STARTED)], False)
    case("envelope/type null", "event", ev(None, STARTED), False)
    case("envelope/type number", "event", ev(1, STARTED), False)
    case("envelope/type empty", "event", ev("", STARTED), False)
    case("envelope/type wrong case", "event", ev("Started", STARTED), False)
    case("envelope/type unknown", "event", ev("paused", {}), False)
    case("envelope/type deleted refused", "event", ev("deleted", {}), False)
    case("envelope/type deleted with reason refused", "event",
         ev("deleted", {"reason": "cleanup"}), False)
    case("envelope/data array", "event", ev("started", [STARTED]), False)
    case("envelope/data string", "event", ev("started", "worker-7"), False)
    case("envelope/data null", "event", ev("started", None), False)
    case("envelope/data of another type", "event", ev("started", LOGGED), False)
    server_fields = {"seq": 1, "position": 1, "recorded_at": "2026-05-01T12:34:56.789Z",
                     "principal": "worker-1", "hash": "0" * 64, "v": 1,
                     "run_id": "01890a5d-ac96-774b-bcce-b302099a8057",
                     "idempotency_key_sha256": "a" * 64}
    for field, value in server_fields.items():
        case(f"envelope/server field {field} refused", "event",
             ev("started", STARTED, **{field: value}), False)
    case("envelope/unknown field refused", "event", ev("started", STARTED, foo=1), False)
    case("envelope/unknown null field refused", "event", ev("started", STARTED, note=None), False)


def id_cases():
    def idc(name, value, valid, ascii_only=False):
        case(f"envelope/id {name}", "event", ev("started", STARTED, id=value), valid, ascii_only)

    idc("empty", "", False)
    idc("1 char", "a", True)
    idc("128 chars", "x" * 128, True)
    idc("129 chars", "x" * 129, False)
    idc("128 astral code points (256 UTF-16 units)", ASTRAL * 128, True)
    idc("129 astral code points", ASTRAL * 129, False)
    idc("128 astral code points written as escapes", ASTRAL * 128, True, ascii_only=True)
    idc("65 astral code points (130 UTF-16 units)", ASTRAL * 65, True)
    idc("128 two-byte characters", "\u00e9" * 128, True)
    idc("unicode", "\u00e9v\u00e9nement-\u4e8c", True)
    idc("single space", " ", True)
    idc("number", 5, False)
    idc("null", None, False)
    idc("object", {"id": "a"}, False)


def occurred_at_cases():
    good = {
        "Z": "2026-05-01T12:34:56Z",
        "millis": "2026-05-01T12:34:56.789Z",
        "one fraction digit": "2026-05-01T12:34:56.7Z",
        "nine fraction digits": "2026-05-01T12:34:56.123456789Z",
        "twelve fraction digits": "2026-05-01T12:34:56.123456789012Z",
        "positive offset": "2026-05-01T14:34:56+02:00",
        "negative offset": "2026-05-01T07:04:56-05:30",
        "offset -00:00": "2026-05-01T12:34:56-00:00",
        "offset +23:59": "2026-05-01T12:34:56+23:59",
        "leap day 2024": "2024-02-29T00:00:00Z",
        "leap day 2000": "2000-02-29T00:00:00Z",
        "day 31 in December": "2026-12-31T23:59:59Z",
        "day 30 in April": "2026-04-30T00:00:00Z",
        "second 60": "2016-12-31T23:59:60Z",
        "year 0001": "0001-01-01T00:00:00Z",
        "year 9999": "9999-12-31T23:59:59.999Z",
    }
    bad = {
        "lower-case t": "2026-05-01t12:34:56Z",
        "lower-case z": "2026-05-01T12:34:56z",
        "space separator": "2026-05-01 12:34:56Z",
        "no offset": "2026-05-01T12:34:56",
        "date only": "2026-05-01",
        "no seconds": "2026-05-01T12:34Z",
        "empty fraction": "2026-05-01T12:34:56.Z",
        "comma fraction": "2026-05-01T12:34:56,5Z",
        "offset without colon": "2026-05-01T12:34:56+0200",
        "offset hours only": "2026-05-01T12:34:56+02",
        "offset +24:00": "2026-05-01T12:34:56+24:00",
        "offset minutes 60": "2026-05-01T12:34:56+01:60",
        "month 13": "2026-13-01T00:00:00Z",
        "month 00": "2026-00-10T00:00:00Z",
        "day 00": "2026-05-00T00:00:00Z",
        "day 32": "2026-05-32T00:00:00Z",
        "April 31": "2026-04-31T00:00:00Z",
        "February 29 in 2023": "2023-02-29T00:00:00Z",
        "February 29 in 1900": "1900-02-29T00:00:00Z",
        "February 30 in 2024": "2024-02-30T00:00:00Z",
        "hour 24": "2026-05-01T24:00:00Z",
        "minute 60": "2026-05-01T12:60:00Z",
        "second 61": "2026-05-01T12:34:61Z",
        "two-digit year": "26-05-01T12:34:56Z",
        "five-digit year": "12026-05-01T12:34:56Z",
        "single-digit month": "2026-5-01T12:34:56Z",
        "trailing newline": "2026-05-01T12:34:56Z\n",
        "leading space": " 2026-05-01T12:34:56Z",
        "trailing space": "2026-05-01T12:34:56Z ",
        "trailing text": "2026-05-01T12:34:56Zjunk",
        "fullwidth digits": "\uff12\uff10\uff12\uff16-05-01T12:34:56Z",
        "arabic-indic digits": "\u0662\u0660\u0662\u0666-05-01T12:34:56Z",
        "empty": "",
        "unix seconds as string": "1777638896",
    }
    for name, value in good.items():
        case(f"envelope/occurred_at {name}", "event",
             ev("started", STARTED, occurred_at=value), True)
    for name, value in bad.items():
        case(f"envelope/occurred_at {name}", "event",
             ev("started", STARTED, occurred_at=value), False)
    case("envelope/occurred_at number", "event",
         ev("started", STARTED, occurred_at=1777638896), False)
    case("envelope/occurred_at null", "event", ev("started", STARTED, occurred_at=None), False)


# ---------------------------------------------------------------- created

def created_cases():
    def c(name, data, valid, ascii_only=False):
        case(f"created/{name}", "event", ev("created", data), valid, ascii_only)

    full = {"operation": "profile",
            "datastore": {"id": "ds-42", "name": "Sales warehouse"},
            "config": {"max_records": 1000000, "sample": 0.25, "tags": ["a", None, True],
                       "nested": {"anything": {"goes": []}}, "": "empty key is fine here"},
            "triggered_by": {"kind": "schedule", "id": "nightly"},
            "containers": ["orders", "customers", "line_items"],
            "total": 3, "unit": "tables"}
    c("full", full, True)
    for op in ["sync", "profile", "scan", "external_scan", "export", "materialize", "promote"]:
        c(f"operation {op}", with_(CREATED, operation=op), True)
    for name, op in {"wrong case": "Scan", "unknown": "delete", "empty": "", "number": 3,
                     "null": None}.items():
        c(f"operation {name}", with_(CREATED, operation=op), False)
    for field in ["operation", "datastore", "triggered_by"]:
        c(f"missing {field}", without(CREATED, field), False)
    c("empty data", {}, False)

    # datastore
    c("datastore with name", with_(CREATED, datastore={"id": "ds-1", "name": "Sales"}), True)
    c("datastore unicode name", with_(CREATED, datastore={"id": "\u6570\u636e-1",
                                                          "name": "Entrep\u00f4t \U0001F4E6"}), True)
    c("datastore missing id", with_(CREATED, datastore={"name": "Sales"}), False)
    c("datastore empty id", with_(CREATED, datastore={"id": ""}), False)
    c("datastore id number", with_(CREATED, datastore={"id": 42}), False)
    c("datastore empty name", with_(CREATED, datastore={"id": "ds-1", "name": ""}), False)
    c("datastore null name", with_(CREATED, datastore={"id": "ds-1", "name": None}), False)
    c("datastore unknown field", with_(CREATED, datastore={"id": "ds-1", "kind": "pg"}), False)
    c("datastore as string", with_(CREATED, datastore="ds-1"), False)
    c("datastore null", with_(CREATED, datastore=None), False)

    # config
    c("config empty", with_(CREATED, config={}), True)
    c("config free-form with unknown members", with_(CREATED, config={"x": {"y": [1, 1.5, "z"]}}), True)
    c("config array", with_(CREATED, config=[1, 2]), False)
    c("config string", with_(CREATED, config="fast"), False)
    c("config null", with_(CREATED, config=None), False)

    # triggered_by
    for kind in ["user", "schedule", "api", "system"]:
        c(f"triggered_by kind {kind}", with_(CREATED, triggered_by={"kind": kind, "id": "x"}), True)
    c("triggered_by kind unknown", with_(CREATED, triggered_by={"kind": "robot", "id": "x"}), False)
    c("triggered_by kind wrong case", with_(CREATED, triggered_by={"kind": "User", "id": "x"}), False)
    c("triggered_by empty id", with_(CREATED, triggered_by={"kind": "user", "id": ""}), False)
    c("triggered_by id number", with_(CREATED, triggered_by={"kind": "user", "id": 7}), False)
    c("triggered_by missing id", with_(CREATED, triggered_by={"kind": "user"}), False)
    c("triggered_by missing kind", with_(CREATED, triggered_by={"id": "alice"}), False)
    c("triggered_by unknown field",
      with_(CREATED, triggered_by={"kind": "user", "id": "alice", "email": "a@x"}), False)
    c("triggered_by null", with_(CREATED, triggered_by=None), False)
    c("triggered_by string", with_(CREATED, triggered_by="alice"), False)

    # containers
    c("containers empty", with_(CREATED, containers=[]), True)
    c("containers unicode names", with_(CREATED, containers=["\u00e9t\u00e9", "\u8868", ASTRAL]), True)
    c("containers empty name", with_(CREATED, containers=["orders", ""]), False)
    c("containers number item", with_(CREATED, containers=["orders", 1]), False)
    c("containers null item", with_(CREATED, containers=[None]), False)
    c("containers duplicate name", with_(CREATED, containers=["orders", "orders"]), False)
    c("containers string", with_(CREATED, containers="orders"), False)
    c("containers object items", with_(CREATED, containers=[{"name": "orders"}]), False)

    # total (integer >= 0, integral numbers accepted)
    for name, value, valid in [
            ("0", 0, True), ("1.0", 1.0, True), ("exponent 1e2", Raw("1e2"), True),
            ("exponent 1.0E0", Raw("1.0E0"), True), ("-0", Raw("-0"), True),
            ("2^53-1", MAX_SAFE, True), ("2^53", MAX_SAFE + 1, False),
            ("1e300", Raw("1e300"), False), ("-1", -1, False), ("-1.0", -1.0, False),
            ("1.5", 1.5, False), ("0.5", 0.5, False), ("string", "3", False),
            ("true", True, False), ("null", None, False)]:
        c(f"total {name}", with_(CREATED, total=value), valid)
    c("total below containers length is not a schema rule",
      with_(CREATED, containers=["a", "b"], total=1), True)

    # unit
    c("unit", with_(CREATED, unit="tables"), True)
    c("unit empty", with_(CREATED, unit=""), False)
    c("unit number", with_(CREATED, unit=5), False)

    # server-set and unknown members
    c("rerun_of refused", with_(CREATED, rerun_of="01890a5d-ac96-774b-bcce-b302099a8057"), False)
    c("resumed_from refused",
      with_(CREATED, resumed_from="01890a5d-ac96-774b-bcce-b302099a8057"), False)
    c("run_id inside data refused", with_(CREATED, run_id="01890a5d-ac96-774b-bcce-b302099a8057"), False)
    c("unknown field refused", with_(CREATED, priority="high"), False)


# ---------------------------------------------------------------- started

def started_cases():
    def c(name, data, valid):
        case(f"started/{name}", "event", ev("started", data), valid)

    c("worker unicode", {"worker": "w\u00f6rker-\u4e00"}, True)
    c("worker single space", {"worker": " "}, True)
    c("worker empty", {"worker": ""}, False)
    c("worker number", {"worker": 7}, False)
    c("worker null", {"worker": None}, False)
    c("missing worker", {}, False)
    c("unknown field", {"worker": "w", "host": "h"}, False)


# ---------------------------------------------------------------- progressed

def progressed_cases():
    def c(name, data, valid):
        case(f"progressed/{name}", "event", ev("progressed", data), valid)

    c("full", {"processed": 2, "total": 14,
               "metrics": {"records_scanned": 120000, "anomalies_identified": 3,
                           "checks_added": 0, "containers_profiled": 2},
               "containers": [{"name": "orders", "status": "done"},
                              {"name": "customers", "status": "failed"},
                              {"name": "line_items", "status": "skipped"}]}, True)
    c("missing processed", {"total": 3}, False)
    for name, value, valid in [("1.0", 1.0, True), ("2^53-1", MAX_SAFE, True),
                               ("-1", -1, False), ("1.5", 1.5, False), ("string", "1", False),
                               ("null", None, False), ("false", False, False)]:
        c(f"processed {name}", {"processed": value}, valid)
    c("total 0", {"processed": 0, "total": 0}, True)
    c("total -1", {"processed": 0, "total": -1}, False)
    c("total 2.5", {"processed": 0, "total": 2.5}, False)
    c("processed above total is not a schema rule", {"processed": 5, "total": 3}, True)

    def m(name, metrics, valid):
        c(f"metrics {name}", {"processed": 1, "metrics": metrics}, valid)

    m("empty", {}, True)
    m("0", {"records_scanned": 0}, True)
    m("2.0", {"records_scanned": 2.0}, True)
    m("2^53-1", {"records_scanned": MAX_SAFE}, True)
    m("unicode name", {"enregistrements_\u00e9": 1}, True)
    m("-1", {"records_scanned": -1}, False)
    m("1.5", {"records_scanned": 1.5}, False)
    m("string", {"records_scanned": "3"}, False)
    m("null value", {"records_scanned": None}, False)
    m("bool", {"records_scanned": True}, False)
    m("nested object", {"records": {"scanned": 3}}, False)
    m("empty name", {"": 1}, False)
    m("2^53", {"records_scanned": MAX_SAFE + 1}, False)
    c("metrics array", {"processed": 1, "metrics": [1, 2]}, False)
    c("metrics null", {"processed": 1, "metrics": None}, False)

    def k(name, containers, valid):
        c(f"containers {name}", {"processed": 1, "containers": containers}, valid)

    k("empty", [], True)
    k("same name twice", [{"name": "a", "status": "failed"}, {"name": "a", "status": "done"}], True)
    k("status pending", [{"name": "a", "status": "pending"}], False)
    k("status wrong case", [{"name": "a", "status": "Done"}], False)
    k("missing status", [{"name": "a"}], False)
    k("missing name", [{"status": "done"}], False)
    k("empty name", [{"name": "", "status": "done"}], False)
    k("name number", [{"name": 1, "status": "done"}], False)
    k("unknown item field", [{"name": "a", "status": "done", "rows": 3}], False)
    k("string items", ["a"], False)
    k("as object map", {"a": "done"}, False)
    c("unknown field", {"processed": 1, "percent": 50}, False)


# ---------------------------------------------------------------- logged

def logged_cases():
    def c(name, data, valid, ascii_only=False):
        case(f"logged/{name}", "event", ev("logged", data), valid, ascii_only)

    for level in ["debug", "info", "warning", "error"]:
        c(f"level {level}", {"level": level, "message": "m"}, True)
    for name, level in {"warn": "warn", "upper case": "ERROR", "empty": "", "number": 3,
                        "null": None}.items():
        c(f"level {name}", {"level": level, "message": "m"}, False)
    c("missing level", {"message": "m"}, False)
    c("missing message", {"level": "info"}, False)
    c("message empty", {"level": "info", "message": ""}, True)
    c("message multi-line unicode and NUL",
      {"level": "warning", "message": "line 1\nline 2\t\u00e9\u4e2d\U0001F600\u0000end"}, True)
    c("message number", {"level": "info", "message": 42}, False)
    c("message null", {"level": "info", "message": None}, False)
    c("message 65536 ASCII chars", {"level": "info", "message": "a" * MESSAGE_MAX}, True)
    c("message 65537 ASCII chars", {"level": "info", "message": "a" * (MESSAGE_MAX + 1)}, False)
    # The limit counts UTF-8 bytes. Texts over 65,536 bytes but within 65,536
    # code points pass the schema and fail the server (schemas/README.md):
    # they stay out of this shared corpus.
    c("message 32768 two-byte chars (65536 bytes)",
      {"level": "info", "message": "\u00e9" * (MESSAGE_MAX // 2)}, True)
    c("message 16384 astral chars (65536 bytes)",
      {"level": "info", "message": ASTRAL * (MESSAGE_MAX // 4)}, True)
    c("message 16384 astral chars as surrogate escapes (65536 bytes decoded)",
      {"level": "info", "message": ASTRAL * (MESSAGE_MAX // 4)}, True, ascii_only=True)
    c("message 65537 astral chars", {"level": "info", "message": ASTRAL * (MESSAGE_MAX + 1)}, False)
    c("container", {"level": "info", "message": "m", "container": "orders"}, True)
    c("container empty", {"level": "info", "message": "m", "container": ""}, False)
    c("container null", {"level": "info", "message": "m", "container": None}, False)
    c("container array", {"level": "info", "message": "m", "container": ["orders"]}, False)
    c("fields free-form", {"level": "error", "message": "m",
                           "fields": {"rows": 3, "ratio": 0.5, "tags": [None], "x": {"y": {}}}}, True)
    c("fields empty", {"level": "info", "message": "m", "fields": {}}, True)
    c("fields array", {"level": "info", "message": "m", "fields": ["a"]}, False)
    c("fields string", {"level": "info", "message": "m", "fields": "a=1"}, False)
    c("unknown field", {"level": "info", "message": "m", "timestamp": "now"}, False)


# ---------------------------------------------------------------- ended

def ended_cases():
    def c(name, data, valid):
        case(f"ended/{name}", "event", ev("ended", data), valid)

    system = {"kind": "system", "id": "stale-run-reaper"}
    failure = {"status": "failure", "error": {"message": "connection refused"}}
    aborted = {"status": "aborted", "aborted_by": system}
    c("success full", {"status": "success", "metrics": {"records_scanned": 10, "checks_added": 2},
                       "result": {"summary": {"ok": True}, "rows": [1, 2]}}, True)
    c("failure with error", failure, True)
    c("failure with error code", with_(failure, error={"message": "boom", "code": "E_CONN"}), True)
    c("failure with metrics and result", with_(failure, metrics={"a": 1}, result={}), True)
    c("aborted by system", aborted, True)
    c("aborted by user is not a schema rule", with_(aborted, aborted_by={"kind": "user", "id": "bob"}), True)
    c("aborted with reason", with_(aborted, reason="worker lost"), True)
    c("aborted with empty reason", with_(aborted, reason=""), True)
    c("aborted reason 65536 chars", with_(aborted, reason="r" * MESSAGE_MAX), True)
    c("aborted reason 65537 chars", with_(aborted, reason="r" * (MESSAGE_MAX + 1)), False)
    c("aborted reason number", with_(aborted, reason=1), False)
    c("aborted reason null", with_(aborted, reason=None), False)

    c("missing status", {}, False)
    c("status unknown", {"status": "cancelled"}, False)
    c("status wrong case", {"status": "Success"}, False)
    c("status null", {"status": None}, False)

    c("failure missing error", {"status": "failure"}, False)
    c("success with error", {"status": "success", "error": {"message": "x"}}, False)
    c("aborted with error", with_(aborted, error={"message": "x"}), False)
    c("aborted missing aborted_by", {"status": "aborted"}, False)
    c("aborted missing aborted_by with reason", {"status": "aborted", "reason": "r"}, False)
    c("success with aborted_by", {"status": "success", "aborted_by": system}, False)
    c("failure with aborted_by", with_(failure, aborted_by=system), False)
    c("success with reason", {"status": "success", "reason": "r"}, False)
    c("failure with reason", with_(failure, reason="r"), False)

    c("error empty object", with_(failure, error={}), False)
    c("error empty message", with_(failure, error={"message": ""}), False)
    c("error message number", with_(failure, error={"message": 500}), False)
    c("error message 65536 chars", with_(failure, error={"message": "e" * MESSAGE_MAX}), True)
    c("error message 65537 chars", with_(failure, error={"message": "e" * (MESSAGE_MAX + 1)}), False)
    c("error empty code", with_(failure, error={"message": "x", "code": ""}), False)
    c("error code number", with_(failure, error={"message": "x", "code": 500}), False)
    c("error code null", with_(failure, error={"message": "x", "code": None}), False)
    c("error unknown field", with_(failure, error={"message": "x", "stack": "..."}), False)
    c("error string", with_(failure, error="boom"), False)
    c("error null", with_(failure, error=None), False)

    c("aborted_by kind unknown", with_(aborted, aborted_by={"kind": "admin", "id": "x"}), False)
    c("aborted_by empty id", with_(aborted, aborted_by={"kind": "system", "id": ""}), False)
    c("aborted_by missing kind", with_(aborted, aborted_by={"id": "x"}), False)
    c("aborted_by unknown field",
      with_(aborted, aborted_by={"kind": "system", "id": "x", "at": "now"}), False)
    c("aborted_by null", with_(aborted, aborted_by=None), False)

    c("result array", {"status": "success", "result": [1]}, False)
    c("result null", {"status": "success", "result": None}, False)
    c("metrics negative", {"status": "success", "metrics": {"a": -1}}, False)
    c("metrics 1.0", {"status": "success", "metrics": {"a": 1.0}}, True)
    c("unknown field", {"status": "success", "duration_ms": 5}, False)


# ---------------------------------------------------------------- run projection

RUN_ID = "01890a5d-ac96-774b-bcce-b302099a8057"
OTHER_RUN_ID = "01890a5d-0000-7000-8000-000000000001"
RUNNING = {
    "id": RUN_ID, "operation": "scan", "status": "running", "warning": False,
    "actions": ["abort"], "datastore": {"id": "ds-1", "name": "Sales"},
    "config": {"sample": 0.5}, "triggered_by": {"kind": "user", "id": "alice"},
    "aborted_by": None, "worker": "worker-7",
    "progress": {"processed": 4, "total": 14, "unit": "tables"},
    "metrics": {"records_scanned": 1200},
    "containers": {"orders": "done", "customers": "failed"},
    "log_count": 1, "result": None, "error": None, "rerun_of": None, "resumed_from": None,
    "created_at": "2026-05-01T12:00:00.000Z", "started_at": "2026-05-01T12:00:01.250Z",
    "ended_at": None, "duration_ms": None, "version": 5,
}
QUEUED = with_(RUNNING, status="queued", worker=None, started_at=None,
               progress={"processed": 0, "total": None, "unit": "containers"},
               metrics={}, containers={}, log_count=0, version=1, config={})
SUCCESS = with_(RUNNING, status="success", actions=["rerun", "delete"], log_count=0,
                result={"rows": 10}, ended_at="2026-05-01T12:05:01.250Z", duration_ms=300000,
                version=9)
FAILURE = with_(SUCCESS, status="failure", actions=["resume", "rerun", "delete"],
                error={"message": "connection refused", "code": "E_CONN"}, result=None)
ABORTED = with_(SUCCESS, status="aborted", actions=["resume", "rerun", "delete"], result=None,
                aborted_by={"kind": "user", "id": "bob"})
DELETED = with_(SUCCESS, deleted=True, deleted_at="2026-05-02T00:00:00.000Z", actions=[])


def run_cases():
    def r(name, run, valid):
        case(f"run/{name}", "run", run, valid)

    r("queued", QUEUED, True)
    r("running", RUNNING, True)
    r("success", SUCCESS, True)
    r("success with warning", with_(SUCCESS, warning=True, log_count=2), True)
    r("failure", FAILURE, True)
    r("failure error without code", with_(FAILURE, error={"message": "x"}), True)
    r("failure with logs has no warning", with_(FAILURE, log_count=3), True)
    r("aborted", ABORTED, True)
    r("aborted from queued", with_(ABORTED, worker=None, started_at=None), True)
    r("promote running without worker", with_(RUNNING, operation="promote", worker=None,
                                              started_at=None), True)
    r("deleted", DELETED, True)
    r("deleted keeps actions", with_(DELETED, actions=["rerun"]), True)
    r("rerun of another run", with_(SUCCESS, rerun_of=OTHER_RUN_ID,
                                    triggered_by={"kind": "api", "id": "ci"}), True)
    r("resumed from another run", with_(RUNNING, resumed_from=OTHER_RUN_ID), True)
    r("datastore name null", with_(RUNNING, datastore={"id": "ds-1", "name": None}), True)
    r("integral numbers as 1.0", with_(SUCCESS, version=9.0, duration_ms=300000.0, log_count=0.0), True)
    r("leap day timestamps", with_(RUNNING, created_at="2024-02-29T23:59:59.999Z",
                                   started_at="2024-03-01T00:00:00.000Z"), True)
    r("external_scan success", with_(SUCCESS, operation="external_scan", actions=["delete"]), True)
    r("sync failure", with_(FAILURE, operation="sync", actions=["rerun", "delete"]), True)
    r("scan failure with nothing left to resume", with_(FAILURE, actions=["rerun", "delete"]), True)

    for member in sorted(RUNNING):
        r(f"missing {member}", without(RUNNING, member), False)
    r("not an object", [RUNNING], False)
    r("unknown member", with_(RUNNING, foo=1), False)
    r("status unknown", with_(RUNNING, status="paused"), False)
    r("operation unknown", with_(RUNNING, operation="backup"), False)
    r("id upper-case", with_(RUNNING, id=RUN_ID.upper()), False)
    r("id not a uuid", with_(RUNNING, id="run-1"), False)
    r("id with trailing newline", with_(RUNNING, id=RUN_ID + "\n"), False)
    r("rerun_of empty", with_(SUCCESS, rerun_of=""), False)
    r("resumed_from not a uuid", with_(SUCCESS, resumed_from="x"), False)

    r("deleted false", with_(SUCCESS, deleted=False, deleted_at="2026-05-02T00:00:00.000Z"), False)
    r("deleted without deleted_at", without(DELETED, "deleted_at"), False)
    r("deleted_at without deleted", without(DELETED, "deleted"), False)
    r("deleted while running", with_(RUNNING, deleted=True, deleted_at="2026-05-02T00:00:00.000Z"), False)
    r("deleted_at null", with_(DELETED, deleted_at=None), False)

    r("warning on running", with_(RUNNING, warning=True), False)
    r("warning on success without logs", with_(SUCCESS, warning=True, log_count=0), False)
    r("no warning on success with logs", with_(SUCCESS, log_count=3), False)
    r("warning on failure", with_(FAILURE, warning=True, log_count=3), False)
    r("warning null", with_(SUCCESS, warning=None), False)

    r("running without actions", with_(RUNNING, actions=[]), False)
    r("running with delete", with_(RUNNING, actions=["abort", "delete"]), False)
    r("success with abort", with_(SUCCESS, actions=["abort", "rerun", "delete"]), False)
    r("actions out of order", with_(SUCCESS, actions=["delete", "rerun"]), False)
    r("actions duplicated", with_(SUCCESS, actions=["rerun", "rerun", "delete"]), False)
    r("action unknown", with_(SUCCESS, actions=["pause", "delete"]), False)
    r("actions string", with_(SUCCESS, actions="delete"), False)
    r("success without delete", with_(SUCCESS, actions=["rerun"]), False)
    r("external_scan with rerun", with_(SUCCESS, operation="external_scan"), False)
    r("sync with resume", with_(FAILURE, operation="sync"), False)

    r("error on success", with_(SUCCESS, error={"message": "x"}), False)
    r("failure without error", with_(FAILURE, error=None), False)
    r("error unknown field", with_(FAILURE, error={"message": "x", "trace": "t"}), False)
    r("aborted_by on success", with_(SUCCESS, aborted_by={"kind": "system", "id": "x"}), False)
    r("aborted without aborted_by", with_(ABORTED, aborted_by=None), False)
    r("aborted_by bad kind", with_(ABORTED, aborted_by={"kind": "robot", "id": "x"}), False)
    r("result on running", with_(RUNNING, result={"rows": 1}), False)
    r("result array", with_(SUCCESS, result=[1]), False)
    r("queued with worker", with_(QUEUED, worker="worker-7"), False)
    r("queued with started_at", with_(QUEUED, started_at="2026-05-01T12:00:01.250Z"), False)
    r("worker empty", with_(RUNNING, worker=""), False)
    r("triggered_by null", with_(RUNNING, triggered_by=None), False)

    r("ended_at on running", with_(RUNNING, ended_at="2026-05-01T12:05:01.250Z"), False)
    r("duration_ms on running", with_(RUNNING, duration_ms=5), False)
    r("success without ended_at", with_(SUCCESS, ended_at=None), False)
    r("success without duration_ms", with_(SUCCESS, duration_ms=None), False)
    r("duration_ms negative", with_(SUCCESS, duration_ms=-1), False)
    r("duration_ms fraction", with_(SUCCESS, duration_ms=1.5), False)
    r("version 0", with_(RUNNING, version=0), False)
    r("log_count negative", with_(RUNNING, log_count=-1), False)

    r("created_at with offset", with_(RUNNING, created_at="2026-05-01T12:00:00.000+00:00"), False)
    r("created_at without millis", with_(RUNNING, created_at="2026-05-01T12:00:00Z"), False)
    r("created_at with micros", with_(RUNNING, created_at="2026-05-01T12:00:00.000000Z"), False)
    r("created_at null", with_(RUNNING, created_at=None), False)
    r("created_at impossible date", with_(RUNNING, created_at="2026-02-29T12:00:00.000Z"), False)
    r("started_at second 60", with_(RUNNING, started_at="2026-05-01T12:00:60.000Z"), False)

    r("datastore missing name member", with_(RUNNING, datastore={"id": "ds-1"}), False)
    r("datastore unknown member", with_(RUNNING, datastore={"id": "ds-1", "name": None, "x": 1}), False)
    r("datastore null", with_(RUNNING, datastore=None), False)
    r("config null", with_(RUNNING, config=None), False)
    r("progress total null", with_(RUNNING, progress={"processed": 4, "total": None,
                                                      "unit": "tables"}), True)
    r("progress missing unit", with_(RUNNING, progress={"processed": 4, "total": 14}), False)
    r("progress processed null", with_(RUNNING, progress={"processed": None, "total": 14,
                                                          "unit": "tables"}), False)
    r("progress unknown member", with_(RUNNING, progress={"processed": 4, "total": 14,
                                                          "unit": "tables", "percent": 28}), False)
    r("metrics null", with_(RUNNING, metrics=None), False)
    r("metrics fraction", with_(RUNNING, metrics={"records_scanned": 1.5}), False)
    r("containers bad status", with_(RUNNING, containers={"orders": "pending"}), False)
    r("containers empty name", with_(RUNNING, containers={"": "done"}), False)
    r("containers as array", with_(RUNNING, containers=[{"name": "orders", "status": "done"}]), False)


# ---------------------------------------------------------------- output

def to_json(value, ascii_only):
    """json.dumps, with Raw numbers spliced in verbatim."""
    raws = []

    def mark(v):
        if isinstance(v, Raw):
            raws.append(v.text)
            return f"\x00raw{len(raws) - 1}\x00"
        if isinstance(v, dict):
            return {k: mark(x) for k, x in v.items()}
        if isinstance(v, list):
            return [mark(x) for x in v]
        return v

    text = json.dumps(mark(value), ensure_ascii=ascii_only)
    for i, raw in enumerate(raws):
        text = text.replace(json.dumps(f"\x00raw{i}\x00"), raw)
    return text


def main(argv):
    out = pathlib.Path(argv[1]) if len(argv) > 1 else pathlib.Path(__file__).with_name("corpus.jsonl")
    for make in (envelope_cases, id_cases, occurred_at_cases, created_cases, started_cases,
                 progressed_cases, logged_cases, ended_cases, run_cases):
        make()
    names = [c[0] for c in CASES]
    assert len(names) == len(set(names)), "case names must be unique"
    with out.open("w", encoding="utf-8", newline="\n") as f:
        for name, schema, instance, valid, ascii_only in CASES:
            line = to_json({"name": name, "schema": schema, "instance": instance, "valid": valid},
                           ascii_only)
            f.write(line + "\n")
    print(f"wrote {len(CASES)} cases to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

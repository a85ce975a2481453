#!/usr/bin/env python3
"""Checks the published JSON Schemas against an independent validator.

Usage: check_schemas.py SCHEMAS_DIR CORPUS_JSONL

1. Every SCHEMAS_DIR/**/*.schema.json must declare draft 2020-12, carry an
   $id, be valid against the 2020-12 metaschema, and have every $ref resolve
   to a local file (no network: remote retrieval is refused).
2. Every line of CORPUS_JSONL is a case
   {"name", "schema", "instance", "valid"} where "schema" names a file under
   SCHEMAS_DIR without ".schema.json" ("event", "run"); the validator's
   verdict on "instance" must equal "valid".

Prints each failure, then a last line "N passed, M failed"; exits 1 if any
check failed. Works with python3-jsonschema 4.10 (Debian 12, RefResolver)
and newer releases (the referencing library). No format checker is used:
the schemas express timestamps as patterns.
"""

import json
import pathlib
import sys
import urllib.parse

import jsonschema
from jsonschema import Draft202012Validator

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_SUFFIX = ".schema.json"


def load_schemas(root):
    """Returns {name: schema}, name being the path below root minus the suffix."""
    schemas = {}
    for path in sorted(root.rglob("*" + SCHEMA_SUFFIX)):
        name = path.relative_to(root).as_posix()[: -len(SCHEMA_SUFFIX)]
        with path.open(encoding="utf-8") as f:
            schemas[name] = json.load(f)
    return schemas


def refuse_remote(uri):
    raise LookupError(f"refusing to fetch {uri!r}: every $ref must be local")


class Registry:
    """Resolves $id URIs to the local schemas, with either jsonschema API."""

    def __init__(self, schemas):
        self.by_id = {s["$id"]: s for s in schemas.values() if "$id" in s}
        try:
            import referencing
            import referencing.jsonschema
        except ImportError:  # jsonschema < 4.18 (Debian 12 ships 4.10)
            self.registry = None
            return
        resources = [
            (uri, referencing.Resource.from_contents(
                s, default_specification=referencing.jsonschema.DRAFT202012))
            for uri, s in self.by_id.items()
        ]
        self.registry = referencing.Registry(retrieve=refuse_remote).with_resources(resources)

    def validator(self, schema):
        if self.registry is not None:
            return Draft202012Validator(schema, registry=self.registry)
        resolver = jsonschema.RefResolver(
            base_uri=schema.get("$id", ""), referrer=schema, store=dict(self.by_id),
            handlers={"http": refuse_remote, "https": refuse_remote})
        return Draft202012Validator(schema, resolver=resolver)

    def resolve(self, base_uri, ref):
        """Raises unless ref (relative to base_uri) resolves locally."""
        if self.registry is not None:
            self.registry.resolver(base_uri=base_uri).lookup(ref)
            return
        resolver = jsonschema.RefResolver(
            base_uri=base_uri, referrer=self.by_id.get(base_uri, {}), store=dict(self.by_id),
            handlers={"http": refuse_remote, "https": refuse_remote})
        resolver.resolve(urllib.parse.urljoin(base_uri, ref))


def refs_in(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs_in(item)


def check_schema_files(schemas, registry):
    """Yields (label, error or None) for each schema file."""
    for name, schema in schemas.items():
        label = f"schema {name}{SCHEMA_SUFFIX}"
        try:
            if schema.get("$schema") != DRAFT_2020_12:
                raise ValueError(f"$schema must be {DRAFT_2020_12}")
            if not schema.get("$id", "").endswith("/" + name + SCHEMA_SUFFIX):
                raise ValueError("$id must end with the file's path below schemas/")
            Draft202012Validator.check_schema(schema)
            for ref in refs_in(schema):
                registry.resolve(schema["$id"], ref)
        except Exception as e:  # report every kind of breakage, then go on
            yield label, f"{type(e).__name__}: {str(e).splitlines()[0]}"
        else:
            yield label, None


def read_corpus(path):
    """Yields (line number, case or error text)."""
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                case = json.loads(line)
            except ValueError as e:
                yield number, f"not JSON: {e}"
                continue
            if (not isinstance(case, dict) or set(case) != {"name", "schema", "instance", "valid"}
                    or not isinstance(case["valid"], bool)):
                yield number, "a case is exactly {name, schema, instance, valid: bool}"
                continue
            yield number, case


def short(text, limit=200):
    return text if len(text) <= limit else text[:limit] + "..."


def check_corpus(corpus_path, schemas, registry):
    validators = {}
    names = set()
    for number, case in read_corpus(corpus_path):
        if isinstance(case, str):
            yield f"line {number}", case
            continue
        label = f"line {number} {case['name']!r}"
        if case["name"] in names:
            yield label, "duplicate case name"
            continue
        names.add(case["name"])
        if case["schema"] not in schemas:
            yield label, f"unknown schema {case['schema']!r}"
            continue
        validator = validators.get(case["schema"])
        if validator is None:
            validator = validators[case["schema"]] = registry.validator(schemas[case["schema"]])
        try:
            errors = list(validator.iter_errors(case["instance"]))
        except Exception as e:  # an unresolvable $ref surfaces here too
            yield label, f"validator raised {type(e).__name__}: {str(e).splitlines()[0]}"
            continue
        if (not errors) == case["valid"]:
            yield label, None
        elif case["valid"]:
            best = jsonschema.exceptions.best_match(errors)
            yield label, f"expected valid, got: {short(best.message)} at /{'/'.join(map(str, best.absolute_path))}"
        else:
            yield label, "expected invalid, the validator accepted it"


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    schemas = load_schemas(pathlib.Path(argv[1]))
    if not schemas:
        print(f"no *{SCHEMA_SUFFIX} under {argv[1]}", file=sys.stderr)
        return 2
    registry = Registry(schemas)
    passed = failed = 0
    for checks in (check_schema_files(schemas, registry),
                   check_corpus(argv[2], schemas, registry)):
        for label, error in checks:
            if error is None:
                passed += 1
            else:
                failed += 1
                print(f"FAIL {label}: {error}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

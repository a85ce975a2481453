#!/usr/bin/env python3
"""Checks schemas/openapi.json against itself, the JSON Schemas and the server.

Usage: check_openapi.py OPENAPI_JSON API_CC
       check_openapi.py --sync OPENAPI_JSON   (rewrites the bundled schemas)

1. OPENAPI_JSON is JSON with "openapi": "3.1.x"; every "$ref" in it
   resolves, a local "#/..." pointer into the document or a relative file
   ref ("x.schema.json#/ptr", resolved from the referring file's directory,
   and checked in turn inside that file).
2. Bundled schemas. components/schemas holds a copy of every
   *.schema.json below the directory of OPENAPI_JSON, marked
   "x-bundled-from": "<path below that directory>", so the served document
   (GET /v1/openapi.json, where a relative ref would point at a URL the
   server does not serve) is self-contained. A copy is the file run through
   bundle(): "$schema" and "$id" dropped, every "$ref" rewritten to a
   "#/components/schemas/<Name>..." pointer. Each copy must equal that
   transform of its file, so the copies cannot drift; after editing a schema
   file run with --sync to refresh them. Names follow component_name():
   run.schema.json -> Run, payloads/created.schema.json -> CreatedPayload.
   No "$id" may remain in the document: it would change what "#" means.
   A schema marked "x-properties-from": "<Name>" (a route's body that adds
   members to a bundled schema, e.g. CreateRunRequest) must carry every
   property of <Name> as a $ref to it, so a new payload member cannot be
   forgotten there.
3. With python3-jsonschema: every component schema is a valid 2020-12
   schema, every "example" and "examples" value of a media type,
   parameter or header validates against its schema, and so does every
   item of a component schema's own "examples".
4. Operations: unique operationId, a "Role:" sentence in each description,
   each "{param}" of a path declared as a required path parameter (and no
   undeclared ones), at least one response.
5. Routes. The (method, path template) pairs that Api::Call::Route() in
   API_CC registers (see parse_routes) must equal the documented ones,
   with parameter names ignored ("/v1/runs/{id}" == "/v1/runs/{}"), and an
   operation is unauthenticated ("security": []) exactly when the server
   answers it before `if (!Authenticate()) return;`.
6. If openapi-spec-validator is installed, it must accept the document
   (skipped otherwise; Debian 12 does not package it).

Prints each failure, then a last line "N passed, M failed"; exits 1 if any
check failed (a Route() the parser cannot read is a failure), 2 on bad usage.
"""

import copy
import json
import pathlib
import re
import sys
import urllib.parse

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SCHEMA_SUFFIX = ".schema.json"
COMPONENT_PREFIX = "#/components/schemas/"


# --- bundling ----------------------------------------------------------------

def component_name(rel_path):
    """payloads/created.schema.json -> CreatedPayload; run.schema.json -> Run."""
    parts = rel_path[: -len(SCHEMA_SUFFIX)].split("/")
    camel = "".join(w[:1].upper() + w[1:] for w in re.split(r"[_\-.]", parts[-1]) if w)
    suffix = "".join(d.rstrip("s")[:1].upper() + d.rstrip("s")[1:] for d in parts[:-1])
    return camel + suffix


def schema_files(schemas_dir):
    """Returns {path below schemas_dir: parsed schema}, sorted by path."""
    return {p.relative_to(schemas_dir).as_posix(): json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(schemas_dir.rglob("*" + SCHEMA_SUFFIX))}


def bundle(schema, rel_path, names):
    """The copy of one schema file that components/schemas holds.

    rel_path is the file's path below the schemas directory; names maps such
    paths to component names. Raises KeyError for a ref to an unknown file.
    """
    out = copy.deepcopy(schema)
    out.pop("$schema", None)
    out.pop("$id", None)

    def rewrite(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str):
                    target, _, fragment = value.partition("#")
                    file = (urllib.parse.urljoin(rel_path, target) if target else rel_path)
                    node[key] = COMPONENT_PREFIX + names[file] + fragment
                else:
                    rewrite(value)
        elif isinstance(node, list):
            for item in node:
                rewrite(item)

    rewrite(out)
    return out


def bundled_components(schemas_dir):
    files = schema_files(schemas_dir)
    names = {rel: component_name(rel) for rel in files}
    return {names[rel]: {"x-bundled-from": rel, **bundle(s, rel, names)} for rel, s in files.items()}


def sync(openapi_path):
    doc = json.loads(openapi_path.read_text(encoding="utf-8"))
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name, component in bundled_components(openapi_path.parent).items():
        schemas[name] = component
    openapi_path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"refreshed the bundled schemas in {openapi_path}")


# --- references ---------------------------------------------------------------

def walk_refs(node, where=""):
    """Yields (JSON pointer of the referring object, ref) for every $ref."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield where, value
            else:
                yield from walk_refs(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from walk_refs(item, f"{where}/{i}")


def resolve_pointer(doc, fragment):
    """Follows a JSON pointer fragment ("/a/b", percent-encoded, ~0 ~1)."""
    node = doc
    if not fragment:
        return node
    if not fragment.startswith("/"):
        raise LookupError(f"only JSON pointer fragments are supported, not #{fragment}")
    for token in fragment[1:].split("/"):
        token = urllib.parse.unquote(token).replace("~1", "/").replace("~0", "~")
        if isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        elif isinstance(node, dict) and token in node:
            node = node[token]
        else:
            raise LookupError(f"no member {token!r}")
    return node


def check_refs(doc, path, checks, seen=None):
    """Checks every $ref in doc (loaded from path) and in the files it names."""
    seen = set() if seen is None else seen
    seen.add(path.resolve())
    for where, ref in walk_refs(doc):
        label = f"$ref {ref!r} at {path.name}#{where}"
        target, _, fragment = ref.partition("#")
        try:
            if urllib.parse.urlsplit(target).scheme:
                raise LookupError("absolute URIs are not fetched; use a relative or local ref")
            if target:
                file = (path.parent / urllib.parse.unquote(target))
                other = json.loads(file.read_text(encoding="utf-8"))
                resolve_pointer(other, urllib.parse.unquote(fragment))
                if file.resolve() not in seen:
                    check_refs(other, file, checks, seen)
            else:
                resolve_pointer(doc, urllib.parse.unquote(fragment))
        except (OSError, ValueError, LookupError) as e:
            checks.fail(label, f"does not resolve: {e}")
        else:
            checks.ok()


# --- Route() parser -------------------------------------------------------------
#
# parse_routes reads the body of `void Api::Call::Route()` as C++ tokens
# (comments dropped, string literals kept whole, raw strings included) and
# walks its statements. It understands exactly these forms and stops with
# RouteParseError, naming the line, on anything else:
#
#   const auto method = request_.method();          declarations it skips
#   const auto& p = parts_;
#   const bool get = method == http::verb::get || method == http::verb::head;
#                                                   a method alias (any name)
#   if (!Authenticate()) return;                    later routes need a token
#   if (COND) return Handler(...);                  a route
#   if (COND) { ... route_ = "name"; ... }          a route answered inline
#                                                   (nothing inside is read)
#   if (p.empty() || p[0] != "v1") { ...Problem(404...); return; }
#                                                   fallback: later routes
#                                                   have p[0] == "v1"
#   if (COND) { more of these }                     COND applies to the inner
#   Problem(404, ...);                              the final fallback
#
# COND is a conjunction (&&) of atoms:
#   path_ == "/literal"         the whole path (no parts_ test with it)
#   p.size() == N, p.size() >= N
#   p[I] == "literal"           segment I; segments without one are params
#   (p.empty() || p[0] != "v1") any GET outside /v1: the web page, as "/"
#   get, post, ...              a declared method alias
#   method == http::verb::X
# HEAD goes with GET and is not listed on its own.

class RouteParseError(Exception):
    pass


TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<raw>R"(?P<delim>[^(\s]*)\((?P<rawbody>.*?)\)(?P=delim)")
  | (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<chr>'(?:[^'\\\n]|\\.)*')
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<num>[0-9][0-9A-Za-z_.']*)
  | (?P<op>::|->|==|!=|>=|<=|&&|\|\||[-+*/%<>=!&|^~?:;,.(){}\[\]#])
""", re.VERBOSE | re.DOTALL)


def tokenize(text, first_line):
    tokens = []
    line = first_line
    pos = 0
    while pos < len(text):
        m = TOKEN_RE.match(text, pos)
        if not m:
            raise RouteParseError(f"api.cc:{line}: cannot tokenize {text[pos:pos + 20]!r}")
        kind = "raw" if m.group("raw") is not None else m.lastgroup
        if kind not in ("ws", "comment"):
            value = m.group(0)
            if kind == "str":
                value = json.loads(value) if "\\" not in value else value[1:-1]
            tokens.append((kind, value, line))
        line += m.group(0).count("\n")
        pos = m.end()
    return tokens


def route_body_tokens(source):
    m = re.search(r"void\s+Api::Call::Route\(\)\s*\{", source)
    if not m:
        raise RouteParseError("no `void Api::Call::Route() {` in the file")
    first_line = source.count("\n", 0, m.end()) + 1
    tokens = tokenize(source[m.end():], first_line)
    depth = 0
    for i, (kind, value, _) in enumerate(tokens):
        if kind == "op" and value == "{":
            depth += 1
        elif kind == "op" and value == "}":
            if depth == 0:
                return tokens[:i]
            depth -= 1
    raise RouteParseError("Route() has no closing brace")


def text_of(tokens):
    """Compact text of tokens: strings quoted, no spaces between symbols."""
    out = ""
    for kind, value, _ in tokens:
        piece = json.dumps(value) if kind == "str" else value
        if out and kind in ("word", "num") and (out[-1].isalnum() or out[-1] == "_"):
            out += " "
        out += piece
    return out


class StatementParser:
    """Splits tokens into statements: ('if', cond, then, else or None, line),
    ('block', statements, line) or ('simple', tokens, line)."""

    def __init__(self, tokens):
        self.tokens = tokens
        self.i = 0

    def peek(self, value):
        return self.i < len(self.tokens) and self.tokens[self.i][1] == value \
            and self.tokens[self.i][0] in ("op", "word")

    def expect(self, value):
        if not self.peek(value):
            line = self.tokens[self.i][2] if self.i < len(self.tokens) else "end"
            raise RouteParseError(f"api.cc:{line}: expected {value!r}")
        self.i += 1

    def statements(self, until_brace):
        out = []
        while self.i < len(self.tokens):
            if self.peek("}"):
                if not until_brace:
                    raise RouteParseError(f"api.cc:{self.tokens[self.i][2]}: unbalanced '}}'")
                return out
            out.append(self.statement())
        if until_brace:
            raise RouteParseError("unterminated block in Route()")
        return out

    def balanced(self, closer):
        """Tokens up to the matching closer (exclusive); the opener is consumed."""
        start, depth = self.i, 0
        while self.i < len(self.tokens):
            kind, value, _ = self.tokens[self.i]
            if kind == "op" and value in "({[":
                depth += 1
            elif kind == "op" and value in ")}]":
                if depth == 0 and value == closer:
                    self.i += 1
                    return self.tokens[start:self.i - 1]
                depth -= 1
            self.i += 1
        raise RouteParseError("unbalanced parentheses in Route()")

    def statement(self):
        line = self.tokens[self.i][2]
        if self.peek("if"):
            self.i += 1
            self.expect("(")
            cond = self.balanced(")")
            then = self.statement()
            otherwise = None
            if self.peek("else"):
                self.i += 1
                otherwise = self.statement()
            return ("if", cond, then, otherwise, line)
        if self.peek("{"):
            self.i += 1
            inner = self.statements(until_brace=True)
            self.expect("}")
            return ("block", inner, line)
        start, depth = self.i, 0
        while self.i < len(self.tokens):
            kind, value, _ = self.tokens[self.i]
            if kind == "op" and value in "({[":
                depth += 1
            elif kind == "op" and value in ")}]":
                depth -= 1
            elif kind == "op" and value == ";" and depth == 0:
                self.i += 1
                return ("simple", self.tokens[start:self.i - 1], line)
            self.i += 1
        raise RouteParseError(f"api.cc:{line}: statement without ';'")


def split_and(tokens):
    parts, current, depth = [], [], 0
    for tok in tokens:
        kind, value, _ = tok
        if kind == "op" and value in "([{":
            depth += 1
        elif kind == "op" and value in ")]}":
            depth -= 1
        if kind == "op" and value == "&&" and depth == 0:
            parts.append(current)
            current = []
        else:
            current.append(tok)
    parts.append(current)
    return parts


VERB_RE = r"method==http::verb::(\w+)"


class RouteWalker:
    def __init__(self):
        self.aliases = {}        # method alias -> set of verbs
        self.authenticated = False
        self.implied = {}        # segment index -> literal, from fallbacks
        self.routes = []         # (METHOD, path, authenticated, handler, line)

    def atom(self, tokens, line):
        text = text_of(tokens)
        if m := re.fullmatch(r'path_=="(/[^"]*)"', text):
            return ("path", m.group(1))
        if m := re.fullmatch(r"p\.size\(\)(==|>=)(\d+)", text):
            return ("size" + m.group(1), int(m.group(2)))
        if m := re.fullmatch(r'p\[(\d+)\]=="([^"/]+)"', text):
            return ("seg", (int(m.group(1)), m.group(2)))
        if m := re.fullmatch(r'\(?p\.empty\(\)\|\|p\[0\]!="([^"/]+)"\)?', text):
            return ("outside", m.group(1))
        if text in self.aliases:
            return ("methods", self.aliases[text])
        if m := re.fullmatch(VERB_RE, text):
            return ("methods", {m.group(1).rstrip("_").upper()})
        raise RouteParseError(f"api.cc:{line}: cannot classify the condition {text!r}")

    def condition(self, tokens, line):
        return [self.atom(part, line) for part in split_and(tokens)]

    def declaration(self, tokens, line):
        text = text_of(tokens)
        if text in ("const auto method=request_.method()", "const auto&p=parts_"):
            return
        if m := re.fullmatch(r"const bool (\w+)=(%s(?:\|\|%s)*)" % (VERB_RE, VERB_RE), text):
            verbs = {v.rstrip("_").upper() for v in re.findall(VERB_RE, m.group(2))}
            self.aliases[m.group(1)] = verbs
            return
        if re.match(r'Problem\(404,"not_found"', text):
            return  # the final fallback
        raise RouteParseError(f"api.cc:{line}: cannot classify the statement {text!r}")

    def add_route(self, atoms, handler, line):
        methods = None
        path = outside = None
        size_eq = None
        segs = dict(self.implied)
        for kind, value in atoms:
            if kind == "methods":
                methods = set(value) if methods is None else methods & value
            elif kind == "path":
                path = value
            elif kind == "outside":
                outside = value
            elif kind == "size==":
                size_eq = value
            elif kind == "seg":
                i, literal = value
                if segs.get(i, literal) != literal:
                    raise RouteParseError(f"api.cc:{line}: segment {i} is both {segs[i]!r} and {literal!r}")
                segs[i] = literal
        if methods is None:
            raise RouteParseError(f"api.cc:{line}: the route at this line does not name its method")
        if "GET" in methods:
            methods.discard("HEAD")
        if not methods:
            raise RouteParseError(f"api.cc:{line}: the route's method conditions exclude each other")
        if path is None and outside is not None:
            path = "/"
        elif path is None:
            if size_eq is None:
                raise RouteParseError(f"api.cc:{line}: the route does not fix p.size()")
            if any(i >= size_eq for i in segs):
                raise RouteParseError(f"api.cc:{line}: a segment test lies beyond p.size()")
            path = "/" + "/".join(segs.get(i, "{}") for i in range(size_eq))
        for method in sorted(methods):
            self.routes.append((method, path, self.authenticated, handler, line))

    def walk(self, statements, context):
        for stmt in statements:
            kind, line = stmt[0], stmt[-1]
            if kind == "simple":
                if context:
                    raise RouteParseError(f"api.cc:{line}: a statement outside any route: {text_of(stmt[1])!r}")
                self.declaration(stmt[1], line)
            elif kind == "block":
                raise RouteParseError(f"api.cc:{line}: a bare block is not understood")
            else:
                self.walk_if(stmt, context)

    def walk_if(self, stmt, context):
        _, cond, then, otherwise, line = stmt
        cond_text = text_of(cond)
        then_text = text_of(then[1]) if then[0] == "simple" else None
        if cond_text == "!Authenticate()" and then_text == "return":
            if context:
                raise RouteParseError(f"api.cc:{line}: Authenticate() inside a condition")
            self.authenticated = True
            return
        atoms = context + self.condition(cond, line)
        if otherwise is not None:  # fine inside a route block, never read there
            raise RouteParseError(f"api.cc:{line}: 'else' on a routing condition is not understood")
        if then[0] == "simple":
            m = re.fullmatch(r"return (\w+)\(.*\)", then_text, re.DOTALL)
            if not m:
                raise RouteParseError(f"api.cc:{line}: cannot classify {then_text!r}")
            self.add_route(atoms, m.group(1), line)
            return
        if then[0] != "block":
            raise RouteParseError(f"api.cc:{line}: nested if without braces")
        inner = then[1]
        simple = [text_of(s[1]) for s in inner if s[0] == "simple"]
        names = [m.group(1) for s in simple if (m := re.fullmatch(r'route_="([^"]*)"', s))]
        if names:
            self.add_route(atoms, names[0], line)
        elif any(s.startswith('Problem(404,') for s in simple) and "return" in simple \
                and all(s[0] == "simple" for s in inner):
            own = self.condition(cond, line)
            if context or len(own) != 1 or own[0][0] != "outside":
                raise RouteParseError(f"api.cc:{line}: a 404 fallback this parser cannot negate")
            self.implied[0] = own[0][1]
        else:
            self.walk(inner, atoms)


def parse_routes(source):
    """Returns [(METHOD, path template with {} params, authenticated, handler, line)]."""
    walker = RouteWalker()
    walker.walk(StatementParser(route_body_tokens(source)).statements(until_brace=False), [])
    return walker.routes


# --- the document ---------------------------------------------------------------

def normalize(path):
    return re.sub(r"\{[^}]*\}", "{}", path)


def operations(doc):
    for path, item in doc.get("paths", {}).items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method, item, item[method]


def parameters_of(doc, item, op):
    out = []
    for p in item.get("parameters", []) + op.get("parameters", []):
        if "$ref" in p:
            p = resolve_pointer(doc, p["$ref"].partition("#")[2])
        out.append(p)
    return out


def check_operations(doc, checks):
    ids = {}
    for path, method, item, op in operations(doc):
        label = f"{method.upper()} {path}"
        op_id = op.get("operationId")
        if not op_id or op_id in ids:
            checks.fail(label, f"operationId {op_id!r} missing or also used by {ids.get(op_id)}")
        else:
            ids[op_id] = label
            checks.ok()
        checks.expect(label, "Role:" in op.get("description", ""), "the description names no 'Role:'")
        checks.expect(label, bool(op.get("responses")), "no responses")
        try:
            params = parameters_of(doc, item, op)
        except LookupError as e:
            checks.fail(label, f"a parameter $ref does not resolve: {e}")
            continue
        declared = {p["name"] for p in params if p.get("in") == "path"}
        templated = set(re.findall(r"\{([^}]*)\}", path))
        checks.expect(label, declared == templated,
                      f"path parameters {sorted(declared)} but template names {sorted(templated)}")
        checks.expect(label, all(p.get("required") is True for p in params if p.get("in") == "path"),
                      "a path parameter is not required: true")


def check_bundles(doc, openapi_path, checks):
    components = doc.get("components", {}).get("schemas", {})
    try:
        expected = bundled_components(openapi_path.parent)
    except (OSError, ValueError, KeyError) as e:
        checks.fail("bundled schemas", f"cannot bundle the schema files: {type(e).__name__}: {e}")
        return
    for name, want in expected.items():
        have = components.get(name)
        checks.expect(f"components/schemas/{name}", have == want,
                      f"is not the bundled copy of {want['x-bundled-from']} (run with --sync)"
                      if have is not None else f"missing: the copy of {want['x-bundled-from']} (run with --sync)")
    for name, have in components.items():
        if isinstance(have, dict) and "x-bundled-from" in have and name not in expected:
            checks.fail(f"components/schemas/{name}", f"bundled from {have['x-bundled-from']}, which is gone")
    for name, have in components.items():
        source = have.get("x-properties-from") if isinstance(have, dict) else None
        if source is None:
            continue
        label = f"components/schemas/{name}"
        wanted = components.get(source, {}).get("properties")
        if not isinstance(wanted, dict):
            checks.fail(label, f"x-properties-from names {source!r}, which has no properties")
            continue
        props = have.get("properties", {})
        for key in wanted:
            ref = props.get(key, {}).get("$ref")
            checks.expect(label, ref == f"{COMPONENT_PREFIX}{source}/properties/{key}",
                          f"does not carry {source}'s member {key!r} (as a $ref to it)")
    ids = [where for where, _ in walk_ids(doc)]
    checks.expect("no $id in the document", not ids, f"$id at {ids[:5]}")


def walk_ids(node, where=""):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$id" and isinstance(value, str):
                yield where, value
            else:
                yield from walk_ids(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from walk_ids(item, f"{where}/{i}")


def schema_validator(doc):
    """Returns validate(schema, instance) -> error text or None, or None without jsonschema."""
    try:
        import jsonschema
        from jsonschema import Draft202012Validator
    except ImportError:
        return None, None
    base = "urn:runledger:openapi"
    try:
        import referencing
        import referencing.jsonschema
        resource = referencing.Resource.from_contents(
            doc, default_specification=referencing.jsonschema.DRAFT202012)
        registry = referencing.Registry().with_resource(base, resource)

        def make(schema):
            return Draft202012Validator(schema, registry=registry)
    except ImportError:  # jsonschema < 4.18 (Debian 12 ships 4.10)
        def make(schema):
            return Draft202012Validator(schema, resolver=jsonschema.RefResolver(base, doc))

    def anchored(node):
        """A copy of an inline schema whose "#..." refs point into the document."""
        if isinstance(node, dict):
            return {k: (base + v if k == "$ref" and isinstance(v, str) and v.startswith("#")
                        else anchored(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [anchored(v) for v in node]
        return node

    def validate(schema, instance):
        errors = list(make(anchored(schema)).iter_errors(instance))
        if not errors:
            return None
        best = jsonschema.exceptions.best_match(errors)
        return f"{best.message[:200]} at /{'/'.join(map(str, best.absolute_path))}"

    return validate, Draft202012Validator


def examples_of(node, where=""):
    """Yields (where, schema, example) for media types, parameters and headers."""
    if isinstance(node, dict):
        schema = node.get("schema")
        if isinstance(schema, dict):
            if "example" in node:
                yield f"{where}/example", schema, node["example"]
            for name, ex in node.get("examples", {}).items():
                if isinstance(ex, dict) and "value" in ex:
                    yield f"{where}/examples/{name}", schema, ex["value"]
        for key, value in node.items():
            if key not in ("examples", "example"):
                yield from examples_of(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from examples_of(item, f"{where}/{i}")


def check_schemas_and_examples(doc, checks):
    validate, draft = schema_validator(doc)
    if validate is None:
        print("note: python3-jsonschema is missing; schema and example checks skipped")
        return
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        try:
            draft.check_schema(schema)
        except Exception as e:  # SchemaError and friends: report and go on
            checks.fail(f"components/schemas/{name}", f"not a valid 2020-12 schema: {str(e).splitlines()[0]}")
        else:
            checks.ok()
    for where, schema, example in examples_of(doc.get("paths", {}), "/paths"):
        error = validate(schema, example)
        checks.expect(f"example {where}", error is None, error)
    for where, schema, example in examples_of(doc.get("components", {}), "/components"):
        error = validate(schema, example)
        checks.expect(f"example {where}", error is None, error)
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        for i, example in enumerate(schema.get("examples", []) if isinstance(schema, dict) else []):
            error = validate({"$ref": COMPONENT_PREFIX + name}, example)
            checks.expect(f"example /components/schemas/{name}/examples/{i}", error is None, error)


def check_routes(doc, api_cc, checks):
    try:
        routes = parse_routes(api_cc.read_text(encoding="utf-8"))
    except (OSError, RouteParseError) as e:
        checks.fail(f"routes of {api_cc}", f"cannot read them ({e}); teach parse_routes the new form")
        return
    served = {}
    for method, path, authenticated, handler, line in routes:
        if (method, path) in served:
            checks.fail(f"route {method} {path}", f"registered at api.cc:{served[(method, path)][2]} "
                        f"and again at api.cc:{line}, which is never reached")
        served.setdefault((method, path), (authenticated, handler, line))
    documented = {}
    for path, method, _, op in operations(doc):
        documented[(method.upper(), normalize(path))] = (path, op.get("security", doc.get("security")))
    for key in sorted(set(served) | set(documented)):
        label = f"route {key[0]} {key[1]}"
        if key not in documented:
            authenticated, handler, line = served[key]
            checks.fail(label, f"registered (api.cc:{line}, {handler}) but not documented")
        elif key not in served:
            checks.fail(label, f"documented as {documented[key][0]} but the server registers no such route")
        else:
            authenticated, handler, line = served[key]
            security = documented[key][1]
            checks.expect(label, authenticated == (security != []),
                          f"api.cc:{line} {'requires' if authenticated else 'does not require'} a token, "
                          f"the document says security {json.dumps(security)}")


def check_with_spec_validator(doc, checks):
    try:
        from openapi_spec_validator import validate
    except ImportError:
        print("note: openapi-spec-validator is not installed; its check is skipped")
        return
    try:
        validate(doc)
    except Exception as e:  # its error types vary by release
        checks.fail("openapi-spec-validator", str(e).splitlines()[0][:300])
    else:
        checks.ok()


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def ok(self):
        self.passed += 1

    def fail(self, label, detail):
        self.failed += 1
        print(f"FAIL {label}: {detail}")

    def expect(self, label, condition, detail):
        if condition:
            self.ok()
        else:
            self.fail(label, detail)


def main(argv):
    if len(argv) == 3 and argv[1] == "--sync":
        sync(pathlib.Path(argv[2]))
        return 0
    if len(argv) != 3:
        print("usage: check_openapi.py OPENAPI_JSON API_CC | --sync OPENAPI_JSON", file=sys.stderr)
        return 2
    openapi_path, api_cc = pathlib.Path(argv[1]), pathlib.Path(argv[2])
    checks = Checks()
    try:
        doc = json.loads(openapi_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        checks.fail(str(openapi_path), f"not readable JSON: {e}")
        print(f"{checks.passed} passed, {checks.failed} failed")
        return 1
    checks.ok()
    version = doc.get("openapi") if isinstance(doc, dict) else None
    checks.expect("openapi version", isinstance(version, str) and re.fullmatch(r"3\.1\.\d+", version),
                  f"\"openapi\" is {version!r}, not \"3.1.x\"")
    if not isinstance(doc, dict):
        print(f"{checks.passed} passed, {checks.failed} failed")
        return 1
    check_refs(doc, openapi_path, checks)
    check_bundles(doc, openapi_path, checks)
    check_schemas_and_examples(doc, checks)
    check_operations(doc, checks)
    check_routes(doc, api_cc, checks)
    check_with_spec_validator(doc, checks)
    print(f"{checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

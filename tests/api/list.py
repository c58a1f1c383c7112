#!/usr/bin/env python3
"""The public API of the mcast crate, one item per line, from rustdoc's JSON output.

    RUSTC_BOOTSTRAP=1 cargo rustdoc --lib -- -Z unstable-options --output-format json
    python3 tests/api/list.py target/doc/mcast.json > tests/api/public-api.txt

Each line is an item a dependent crate can name: modules, types with their public fields and variants,
functions and methods with their signatures, constants, traits and the trait implementations of public types
(auto traits and blanket implementations left out). `make check` (target `api`) compares the listing with the
committed one, so a change of the public API is a change made on purpose.
"""
import json
import sys

SUPPORTED = range(39, 80)


def main():
    doc = json.load(open(sys.argv[1]))
    if doc.get("format_version") not in SUPPORTED:
        sys.exit(f"list.py: rustdoc JSON format {doc.get('format_version')} is not one this script reads")
    Lister(doc).run()


class Lister:
    def __init__(self, doc):
        self.index = doc["index"]
        self.paths = doc["paths"]
        self.root = doc["root"]
        self.lines = set()
        self.seen = set()
        self.found = {}
        self.public = None

    def item(self, id_):
        return self.index.get(str(id_))

    def run(self):
        root = self.item(self.root)
        # First pass: where each public item can be named (its shortest public path), so that signatures name
        # types by that path rather than where they are defined.
        self.public = {}
        self.module("mcast", root)
        self.public = {k: v for k, v in self.found.items()}
        self.lines, self.seen = set(), set()
        self.module("mcast", root)
        leaks = sorted(line for line in self.lines if "PRIVATE(" in line)
        for line in sorted(self.lines):
            print(line)
        if leaks:
            print(f"list.py: {len(leaks)} public items name types no dependent can name:", file=sys.stderr)
            for line in leaks:
                print(f"  {line}", file=sys.stderr)
            sys.exit(1)

    # --- walking -------------------------------------------------------------------------------------------

    def module(self, path, item):
        self.lines.add(f"mod {path}")
        for child_id in item["inner"]["module"]["items"]:
            child = self.item(child_id)
            if child is None or child.get("visibility") != "public":
                continue
            self.visit(path, child)

    def visit(self, parent, item):
        inner = item["inner"]
        kind = next(iter(inner))
        if kind == "use":
            use = inner["use"]
            target = self.item(use["id"]) if use.get("id") is not None else None
            if use.get("is_glob"):
                if target is not None and "module" in target["inner"]:
                    for child_id in target["inner"]["module"]["items"]:
                        child = self.item(child_id)
                        if child is not None and child.get("visibility") == "public":
                            self.visit(parent, child)
                return
            name = use["name"]
            if target is None:
                self.lines.add(f"pub use {parent}::{name} = {use['source']}")
                return
            self.visit_named(f"{parent}::{name}", target)
            return
        if item.get("name") is None:
            return
        self.visit_named(f"{parent}::{item['name']}", item)

    def visit_named(self, path, item):
        old = self.found.get(item["id"])
        if old is None or (path.count("::"), path) < (old.count("::"), old):
            self.found[item["id"]] = path
        key = (path, item["id"])
        if key in self.seen:
            return
        self.seen.add(key)
        inner = item["inner"]
        kind = next(iter(inner))
        body = inner[kind]
        if kind == "module":
            self.module(path, item)
        elif kind == "struct":
            self.lines.add(f"struct {path}{self.generics(body['generics'])}{self.nonexhaustive(item)}")
            fields = body["kind"]
            if isinstance(fields, dict) and "plain" in fields:
                for fid in fields["plain"]["fields"]:
                    self.field(path, self.item(fid))
            elif isinstance(fields, dict) and "tuple" in fields:
                for n, fid in enumerate(fields["tuple"]):
                    if fid is not None:
                        f = self.item(fid)
                        if f is not None and f.get("visibility") == "public":
                            self.lines.add(f"field {path}.{n}: {self.ty(f['inner']['struct_field'])}")
            self.impls(path, body["impls"])
        elif kind == "enum":
            self.lines.add(f"enum {path}{self.generics(body['generics'])}{self.nonexhaustive(item)}")
            for vid in body["variants"]:
                v = self.item(vid)
                self.variant(path, v)
            self.impls(path, body["impls"])
        elif kind == "union":
            self.lines.add(f"union {path}")
            self.impls(path, body["impls"])
        elif kind == "function":
            self.lines.add(f"fn {path}{self.signature(body)}")
        elif kind == "constant":
            self.lines.add(f"const {path}: {self.ty(body['type'])}")
        elif kind == "static":
            self.lines.add(f"static {path}: {self.ty(body['type'])}")
        elif kind == "type_alias":
            self.lines.add(f"type {path} = {self.ty(body['type'])}")
        elif kind == "trait":
            self.lines.add(f"trait {path}")
            for mid in body["items"]:
                m = self.item(mid)
                if m is not None:
                    self.assoc(f"{path}", m, in_trait=True)
        elif kind in ("macro", "proc_macro"):
            self.lines.add(f"macro {path}")
        else:
            self.lines.add(f"{kind} {path}")

    def nonexhaustive(self, item):
        attrs = json.dumps(item.get("attrs", []))
        return " #[non_exhaustive]" if "non_exhaustive" in attrs else ""

    def field(self, path, f):
        if f is None or f.get("visibility") != "public":
            return
        self.lines.add(f"field {path}.{f['name']}: {self.ty(f['inner']['struct_field'])}")

    def variant(self, path, v):
        if v is None:
            return
        body = v["inner"]["variant"]
        kind = body["kind"]
        shape = ""
        if isinstance(kind, dict) and "tuple" in kind:
            tys = []
            for fid in kind["tuple"]:
                f = self.item(fid) if fid is not None else None
                tys.append(self.ty(f["inner"]["struct_field"]) if f else "_")
            shape = "(" + ", ".join(tys) + ")"
        elif isinstance(kind, dict) and "struct" in kind:
            names = []
            for fid in kind["struct"]["fields"]:
                f = self.item(fid)
                if f is not None:
                    names.append(f"{f['name']}: {self.ty(f['inner']['struct_field'])}")
            shape = " { " + ", ".join(names) + " }"
        self.lines.add(f"variant {path}::{v['name']}{shape}{self.nonexhaustive(v)}")

    def impls(self, path, impl_ids):
        for iid in impl_ids:
            imp = self.item(iid)
            if imp is None:
                continue
            body = imp["inner"]["impl"]
            if body.get("is_synthetic") or body.get("blanket_impl") is not None:
                continue
            if "generic" in (body.get("for") or {}):
                continue  # a blanket implementation (`impl<T> From<T> for T`), not the type's own
            trait = body.get("trait")
            if trait is None:
                for mid in body["items"]:
                    m = self.item(mid)
                    if m is not None and m.get("visibility") == "public":
                        self.assoc(path, m, in_trait=False)
            else:
                neg = "!" if body.get("is_negative") else ""
                name = self.path_ty(trait)
                if name.startswith("PRIVATE("):
                    continue  # a crate-private trait: nothing a dependent can see or use
                self.lines.add(f"impl {neg}{name} for {self.ty(body['for'])}")

    def assoc(self, path, m, in_trait):
        inner = m["inner"]
        kind = next(iter(inner))
        body = inner[kind]
        if kind == "function":
            self.lines.add(f"fn {path}::{m['name']}{self.signature(body)}")
        elif kind in ("assoc_const", "constant"):
            ty = body.get("type")
            self.lines.add(f"const {path}::{m['name']}: {self.ty(ty) if ty else '?'}")
        elif kind == "assoc_type":
            self.lines.add(f"type {path}::{m['name']}")

    # --- rendering -----------------------------------------------------------------------------------------

    def generics(self, g):
        params = []
        for p in g.get("params", []):
            kind = p["kind"]
            if "lifetime" in kind:
                params.append(p["name"])
            elif "type" in kind:
                if kind["type"].get("is_synthetic"):
                    continue
                bounds = self.bounds(kind["type"].get("bounds", []))
                params.append(p["name"] + (f": {bounds}" if bounds else ""))
            elif "const" in kind:
                params.append(f"const {p['name']}: {self.ty(kind['const']['type'])}")
        return f"<{', '.join(params)}>" if params else ""

    def signature(self, body):
        sig = body["sig"]
        header = body.get("header", {})
        prefix = ""
        if header.get("is_const"):
            prefix += "const "
        if header.get("is_async"):
            prefix += "async "
        if header.get("is_unsafe"):
            prefix += "unsafe "
        args = []
        for name, ty in sig["inputs"]:
            if name == "self":
                args.append(self.self_arg(ty))
            else:
                args.append(f"{name}: {self.ty(ty)}")
        out = sig.get("output")
        ret = f" -> {self.ty(out)}" if out is not None else ""
        where = ""
        preds = body["generics"].get("where_predicates", [])
        if preds:
            where = " where " + ", ".join(self.predicate(p) for p in preds)
        return f"{self.generics(body['generics'])}({', '.join(args)}){ret}{where}".replace("(", "(", 1) + (
            f" [{prefix.strip()}]" if prefix else "")

    def self_arg(self, ty):
        if ty == {"generic": "Self"}:
            return "self"
        if "borrowed_ref" in ty and ty["borrowed_ref"]["type"] == {"generic": "Self"}:
            return "&mut self" if ty["borrowed_ref"]["is_mutable"] else "&self"
        return f"self: {self.ty(ty)}"

    def predicate(self, p):
        if "bound_predicate" in p:
            b = p["bound_predicate"]
            return f"{self.ty(b['type'])}: {self.bounds(b['bounds'])}"
        return json.dumps(p, sort_keys=True)

    def bounds(self, bounds):
        out = []
        for b in bounds:
            if "trait_bound" in b:
                tb = b["trait_bound"]
                mod = "?" if tb.get("modifier") == "maybe" else ""
                out.append(mod + self.path_ty(tb["trait"]))
            elif "outlives" in b:
                out.append(b["outlives"])
            else:
                out.append(json.dumps(b, sort_keys=True))
        return " + ".join(out)

    def path_ty(self, p):
        name = p.get("path") or p.get("name") or "?"
        summary = self.paths.get(str(p.get("id")))
        if summary is not None and summary.get("crate_id") == 0:
            public = (self.public or {}).get(p.get("id"))
            if public is not None:
                name = public
            elif self.public:
                name = "PRIVATE(" + "::".join(summary["path"]) + ")"
            else:
                name = "::".join(summary["path"])
        args = p.get("args")
        return name + self.generic_args(args)

    def generic_args(self, args):
        if not args:
            return ""
        if "angle_bracketed" in args:
            parts = []
            for a in args["angle_bracketed"]["args"]:
                if "type" in a:
                    parts.append(self.ty(a["type"]))
                elif "lifetime" in a:
                    parts.append(a["lifetime"])
                elif "const" in a:
                    parts.append(str(a["const"].get("expr", "?")))
                else:
                    parts.append("_")
            for c in args["angle_bracketed"].get("constraints", []):
                binding = c.get("binding", {})
                if "equality" in binding:
                    eq = binding["equality"]
                    parts.append(f"{c['name']} = {self.ty(eq['type']) if 'type' in eq else '?'}")
                else:
                    parts.append(f"{c['name']}: {self.bounds(binding.get('constraint', []))}")
            return f"<{', '.join(parts)}>" if parts else ""
        if "parenthesized" in args:
            p = args["parenthesized"]
            ins = ", ".join(self.ty(t) for t in p["inputs"])
            out = f" -> {self.ty(p['output'])}" if p.get("output") else ""
            return f"({ins}){out}"
        return ""

    def ty(self, t):
        if t is None:
            return "()"
        if isinstance(t, str):
            return "_" if t == "infer" else t
        kind = next(iter(t))
        v = t[kind]
        if kind == "resolved_path":
            return self.path_ty(v)
        if kind == "primitive":
            return v
        if kind == "generic":
            return v
        if kind == "borrowed_ref":
            life = f"{v['lifetime']} " if v.get("lifetime") else ""
            mut = "mut " if v["is_mutable"] else ""
            return f"&{life}{mut}{self.ty(v['type'])}"
        if kind == "raw_pointer":
            return f"*{'mut' if v['is_mutable'] else 'const'} {self.ty(v['type'])}"
        if kind == "slice":
            return f"[{self.ty(v)}]"
        if kind == "array":
            return f"[{self.ty(v['type'])}; {v['len']}]"
        if kind == "tuple":
            return "(" + ", ".join(self.ty(x) for x in v) + ")"
        if kind == "impl_trait":
            return "impl " + self.bounds(v)
        if kind == "dyn_trait":
            traits = " + ".join(self.path_ty(x["trait"]) for x in v["traits"])
            return f"dyn {traits}"
        if kind == "qualified_path":
            trait = self.path_ty(v["trait"]) if v.get("trait") else "?"
            return f"<{self.ty(v['self_type'])} as {trait}>::{v['name']}"
        if kind == "function_pointer":
            ins = ", ".join(self.ty(x[1]) for x in v["sig"]["inputs"])
            out = f" -> {self.ty(v['sig']['output'])}" if v["sig"].get("output") else ""
            return f"fn({ins}){out}"
        return json.dumps(t, sort_keys=True)


if __name__ == "__main__":
    main()

"""What a notebook declares and what a command line gives: parameters and their values.

``declared_parameters`` reads a notebook's ``parameters`` cell (names, types
and defaults); ``parse_grid`` / ``parse_fixed`` read ``name=v1,v2`` words;
``coerce`` turns a value into the declared type (papermill passes ``10`` for
``lam = 1.0``; ``"true"`` from a shell means ``True``), or fails with
``name=value is not allowed: ...``.
"""
from __future__ import annotations

import ast
import logging
import math
import re
from typing import Any, NamedTuple

from rvlib import validate

__all__ = ["Param", "ANY", "declared_parameters", "split_values", "parse_grid", "parse_fixed",
           "coerce", "literal"]

ANY = object()          # declared type unknown (default None or not a literal)
_TYPES = {"int": int, "float": float, "bool": bool, "str": str, "list": list, "tuple": tuple,
          "dict": dict}


class Param(NamedTuple):
    """A parameter declared in a notebook's ``parameters`` cell."""
    name: str
    type: Any            # int, float, bool, str, list, tuple, dict or ANY
    default: Any         # the default as a Python value (ANY if not a literal)
    source: str          # the default as written in the cell


def declared_parameters(path) -> dict[str, Param]:
    """The notebook's parameters (name -> ``Param``), in the order of its ``parameters`` cell.

    Parsed from the cell with ``ast`` (exact for multi-line literals and ``=`` in
    comments, which papermill's line regex drops), completed by
    ``papermill.inspect_notebook`` for cells that are not plain Python.  The
    type is the annotation if any (``lam: float = 1``), else the type of the
    literal default; ``None`` defaults accept any literal.
    """
    import papermill

    found = _ast_parameters(path)
    pm_log = logging.getLogger("papermill")
    level, pm_log.level = pm_log.level, logging.ERROR   # its "Unable to parse line" noise
    try:
        inspected = papermill.inspect_notebook(str(path))
    finally:
        pm_log.setLevel(level)
    for name, p in inspected.items():
        found.setdefault(name, (str(p["default"]), str(p.get("inferred_type_name") or "None")))
    out = {}
    for name, (src, ann) in found.items():
        try:
            default = ast.literal_eval(src)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            default = ANY
        ann = re.match(r"\w*", ann).group(0).lower()
        if ann in _TYPES:
            typ = _TYPES[ann]
        elif default is ANY or default is None:
            typ = ANY
        else:
            typ = type(default) if type(default) in _TYPES.values() else ANY
        out[name] = Param(name, typ, default, src)
    return out


def _ast_parameters(path) -> dict[str, tuple[str, str]]:
    """``{name: (default source, annotation)}`` of the top-level assignments of the cell."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        return {}
    src = cells[0].source
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return {}
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(
                node.targets[0], ast.Name):
            out[node.targets[0].id] = (ast.get_source_segment(src, node.value), "None")
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            out[node.target.id] = (ast.get_source_segment(src, node.value),
                                   ast.get_source_segment(src, node.annotation))
    return out


def split_values(text: str) -> list[str]:
    """``"0,1,10"`` -> ``["0", "1", "10"]``; commas inside brackets or quotes do not split."""
    parts, buf, depth, quote = [], [], 0, None
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(buf).strip())
            buf = []
            continue
        buf.append(ch)
    parts.append("".join(buf).strip())
    return parts


def _name_value(arg: str, what: str) -> tuple[str, str]:
    name, eq, value = str(arg).partition("=")
    if not eq or not name.strip() or not value.strip():
        validate.fail(what, arg,
                      f"must look like {'name=v1,v2,...' if what == 'grid' else 'name=value'}")
    return name.strip(), value.strip()


def parse_grid(args) -> dict[str, list[str]]:
    """CLI words ``["lam=0,1,10", "seed=0,1"]`` -> ``{"lam": ["0", "1", "10"], "seed": [...]}``."""
    grid = {}
    for arg in args:
        name, value = _name_value(arg, "grid")
        if name in grid:
            validate.fail("grid", arg, f"{name} is given twice")
        values = split_values(value)
        if any(v == "" for v in values):
            validate.fail("grid", arg, "empty value in the list")
        grid[name] = values
    return grid


def parse_fixed(args) -> dict[str, str]:
    """CLI ``--set`` words ``["quick=True", "clip=[0,1]"]`` -> ``{"quick": "True", ...}``.

    Values are not split at commas: ``--set clip=0,1`` is one value.
    """
    fixed = {}
    for arg in args:
        name, value = _name_value(arg, "--set")
        if name in fixed:
            validate.fail("--set", arg, f"{name} is given twice")
        fixed[name] = value
    return fixed


_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def coerce(param: Param, value):
    """``value`` (a CLI string or a Python value) as the declared type of ``param``.

    Raises ``ValueError`` naming the parameter, the value and the expected type.
    Tuples become lists (papermill injects lists, not tuples).
    """
    t, given = param.type, value

    def fail():
        tname = "a literal" if t is ANY else f"{'an' if t is int else 'a'} {t.__name__}"
        validate.fail(param.name, given, f"must be {tname} (its default is {param.source})")

    if t is ANY:
        return _listify(literal(value) if isinstance(value, str) else value)
    if t is str:
        if not isinstance(value, str):
            fail()
        v = value.strip()
        return v[1:-1] if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'" else value
    if isinstance(value, str):
        if t is bool:
            low = value.strip().lower()
            if low in _TRUE + _FALSE:
                return low in _TRUE
            fail()
        if t in (int, float):
            try:
                value = float(value.strip())
            except ValueError:
                fail()
        else:
            value = literal(value)
    if t is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        fail()
    if t in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail()
        if t is int:
            if not math.isfinite(value) or value != int(value):
                fail()
            return int(value)
        return float(value)
    if t in (list, tuple):
        if not isinstance(value, (list, tuple)):
            fail()
        return [_like(param.default, i, v) for i, v in enumerate(value)]
    if t is dict and not isinstance(value, dict):
        fail()
    return value


def literal(text: str):
    """A Python literal if ``text`` is one (``[0, 1]``, ``None``, ``2``), else the string itself."""
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def _listify(v):
    return [_listify(x) for x in v] if isinstance(v, (list, tuple)) else v


def _like(default, i, v):
    """Element ``v`` of a list given for a list default: ints become floats if the default's are."""
    if isinstance(default, (list, tuple)) and default:
        ref = default[min(i, len(default) - 1)]
        if isinstance(ref, float) and isinstance(v, int) and not isinstance(v, bool):
            return float(v)
    return _listify(v)

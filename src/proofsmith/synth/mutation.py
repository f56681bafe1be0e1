"""Mutants of a function: a test suite certifies a function only if it tells them apart.

UnitCoder keeps a function when the model's tests pass on it, and never checks the
tests; ``assertTrue(True)`` would certify anything. Here a suite also has to fail on
mutants of the function: each mutant changes one site with one classic operator:

    arithmetic  + <-> -,  * <-> /,  // -> /,  % -> *
    comparison  < <-> <=,  > <-> >=,  == <-> !=,  in <-> not in,  is <-> is not
    boolean     and <-> or,  not x -> x
    constant    n -> n + 1,  True <-> False,  "s" -> ""
    return      return e -> return None

Sites are enumerated in source order and a deterministic sample is taken, so the same
function always gets the same mutants. Mutants equal to the original (as code) are dropped.
"""

from __future__ import annotations

import ast
import random
from dataclasses import dataclass

_SWAP_BINOP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
               ast.Mod: ast.Mult}
_SWAP_CMP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
             ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
_SWAP_BOOL = {ast.And: ast.Or, ast.Or: ast.And}


@dataclass(frozen=True)
class Mutant:
    operator: str
    line: int
    source: str


def _sites(tree: ast.AST) -> list[tuple[str, ast.AST]]:
    sites = []
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and type(node.op) in _SWAP_BINOP or isinstance(node, ast.AugAssign) and type(node.op) in _SWAP_BINOP:
            sites.append(("arithmetic", node))
        elif isinstance(node, ast.Compare) and type(node.ops[0]) in _SWAP_CMP:
            sites.append(("comparison", node))
        elif isinstance(node, ast.BoolOp):
            sites.append(("boolean", node))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            sites.append(("negation", node))
        elif isinstance(node, ast.Constant) and type(node.value) in (int, bool, str) and not _is_docstring(node):
            sites.append(("constant", node))
        elif isinstance(node, ast.Return) and node.value is not None:
            sites.append(("return", node))
    return sites


def _is_docstring(node: ast.Constant) -> bool:
    return getattr(node, "_docstring", False)


def _parse(source: str) -> ast.AST:
    tree = ast.parse(source)
    _mark_docstrings(tree)
    return tree


def _mark_docstrings(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                first.value._docstring = True


def _mutate(node: ast.AST) -> ast.AST:
    """The mutated replacement for `node` (the site found by `_sites`)."""
    if isinstance(node, (ast.BinOp, ast.AugAssign)):
        node.op = _SWAP_BINOP[type(node.op)]()
    elif isinstance(node, ast.Compare):
        node.ops = [_SWAP_CMP[type(node.ops[0])](), *node.ops[1:]]
    elif isinstance(node, ast.BoolOp):
        node.op = _SWAP_BOOL[type(node.op)]()
    elif isinstance(node, ast.UnaryOp):
        return node.operand
    elif isinstance(node, ast.Constant):
        value = node.value
        node.value = (not value) if isinstance(value, bool) else value + 1 if isinstance(value, int) else "" if value else "x"
    elif isinstance(node, ast.Return):
        node.value = ast.Constant(None)
    return node


def mutants(source: str, limit: int = 8, seed: int = 0) -> list[Mutant]:
    """Up to `limit` one-site mutants of `source` (a module or a function), deterministic."""
    original = ast.unparse(ast.parse(source))
    count = len(_sites(_parse(source)))
    order = list(range(count))
    random.Random(seed).shuffle(order)
    found, seen = [], {original}
    for index in order:
        tree = _parse(source)
        operator, node = _sites(tree)[index]
        replacement = _mutate(node)
        if replacement is not node:
            _substitute(tree, node, replacement)
        text = ast.unparse(ast.fix_missing_locations(tree))
        if text in seen:
            continue
        seen.add(text)
        found.append(Mutant(operator, getattr(node, "lineno", 0), text))
        if len(found) == limit:
            break
    return found


def _substitute(tree: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
                return
            if isinstance(value, list) and any(item is old for item in value):
                setattr(parent, field, [new if item is old else item for item in value])
                return

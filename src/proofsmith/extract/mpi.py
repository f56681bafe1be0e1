"""One C or C++ file: its MPI calls found with a real parser, removed, and labelled as MPIrigen labels them.

`strip_mpi_calls(text, lang)` parses the file with tree-sitter's C or C++ grammar and
takes out every call of an MPI function (a `call_expression` whose callee is a name of
the MPI standard's form, `MPI_Xxx_yyy`, `PMPI_...`, `MPIX_...`, or the C++ bindings'
`MPI::Init`, `MPI::COMM_WORLD.Send`; MPIrigen's scores see only the C names): a call in a comment,
a string or a `#define` body is no call node, so it does not count. What is left is
MPIrigen's ``code``; each removed call is one ``(L k, call;)`` entry of its
``mpi_labels`` (HPCorpusMPI, Scientific-Computing-Lab/MPI-rigen), numbered as its data
shows:

- a call that is a statement of its own takes its whole lines with it (a multi-line call
  all of them; a comment sharing those lines goes too): no blank line is left. Its
  entry is ``(L k, ...)`` with L the line of ``code`` it now stands before (1-based) and
  k = 1, 2, ... the order of the calls removed together there;
- a call whose value is used (``t = MPI_Wtime();``, ``if (MPI_Init(...) != ...)``), or a
  statement sharing its line with other code, is cut out of its line, which stays:
  ``(L 0, ...)`` with L that line.

An entry's text is the call as written, on one line (line breaks inside it become one
space, comments inside it are dropped), preceded by the line's indentation when whole
lines went, and ending in ``;`` (MPIrigen's label parser splits entries at ``;``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass

from ..core import ProofsmithError

# The MPI standard's names for functions: the prefix, one capital, then lower case, digits, '_'
# (MPI_Comm_rank, MPI_Type_create_f90_real, MPI_T_pvar_read). A user's MPI_calculateJacobi is none.
MPI_FUNCTION = re.compile(r"^(?:P?MPIX?|PMPI)_[A-Z][a-z0-9_]*$")
LANGS = {".c": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".c++": "cpp", ".C": "cpp"}
_WRAPS = re.compile(r"[ \t]*(?:\r?\n[ \t]*)+")  # a line break and the indentation around it


class ParseError(ProofsmithError):
    """The parser could not read the file where it matters (around an MPI call, or nowhere at all)."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class MpiCall:
    """One removed call: what it was, where it was in the source, and where its label puts it in `code`."""

    name: str
    arguments: list[str]  # each argument's source text, on one line
    line: int  # 1-based, in the source
    end_line: int
    column: int  # 0-based, in bytes
    order: int  # 0-based, in source order
    kind: str  # "statement" (its lines went) or "inline" (cut out of a line that stays)
    function: str  # the enclosing function's name, "" at file scope
    L: int
    k: int
    text: str  # the label entry's call text

    def label(self) -> str:
        return f"({self.L} {self.k}, {self.text})"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Stripped:
    code: str  # the source without its MPI calls
    calls: list[MpiCall]
    functions: list[str]  # every function defined in the file, in order
    parse_errors: int  # error nodes the parser recovered from, away from every MPI call

    @property
    def mpi_labels(self) -> str:
        return " ".join(c.label() for c in self.calls)

    @property
    def has_main(self) -> bool:
        return "main" in self.functions


def lang_of(path: str) -> str | None:
    for suffix, lang in LANGS.items():
        if path.endswith(suffix) and (suffix != ".C" or not path.endswith(".c")):
            return lang
    return None


@functools.lru_cache(maxsize=2)
def _language(lang: str):
    try:
        import tree_sitter
        import tree_sitter_c
        import tree_sitter_cpp
    except ImportError as exc:
        raise ProofsmithError("extract mpi needs the C/C++ parsers: pip install 'proofsmith[mpi]'") from exc
    return tree_sitter.Language((tree_sitter_c if lang == "c" else tree_sitter_cpp).language())


def parse(source: bytes, lang: str):
    import tree_sitter

    return tree_sitter.Parser(_language(lang)).parse(source)


def _walk(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


def _callee(call) -> str:
    """The MPI function a call calls, "" for any other: a C name, or the C++ bindings' MPI::Init,
    MPI::COMM_WORLD.Send (deprecated in MPI-2.2, still in Open MPI 4.1)."""
    fn = call.child_by_field_name("function")
    if fn is None:
        return ""
    text = fn.text.decode("utf-8", "replace")
    if fn.type == "identifier":
        return text if MPI_FUNCTION.match(text) else ""
    if fn.type in ("qualified_identifier", "field_expression") and text.startswith("MPI::"):
        return "".join(text.split())
    return ""


def _names_a_call(node, source: bytes) -> bool:
    """An MPI function's name followed by '(' (MPI_Aint, MPI_Comm... are type names, not calls)."""
    return (node.type == "identifier" and MPI_FUNCTION.match(node.text.decode("utf-8", "replace")) is not None
            and source[node.end_byte:node.end_byte + 64].lstrip().startswith(b"("))


def _function_name(definition) -> str:
    declarator = definition.child_by_field_name("declarator")
    while declarator is not None and declarator.type != "function_declarator":
        declarator = declarator.child_by_field_name("declarator")
    name = declarator.child_by_field_name("declarator") if declarator is not None else None
    return name.text.decode("utf-8", "replace").split("::")[-1] if name is not None else ""


def _inside(node, types: set[str]):
    parent = node.parent
    while parent is not None:
        if parent.type in types:
            return parent
        parent = parent.parent
    return None


def _one_line(source: bytes, start: int, end: int, comments: list[tuple[int, int]]) -> str:
    """source[start:end] with its comments dropped and its line breaks made one space."""
    parts, at = [], start
    for c_start, c_end in comments:
        if start <= c_start and c_end <= end:
            parts.append(source[at:c_start])
            at = c_end
    parts.append(source[at:end])
    return _WRAPS.sub(" ", b"".join(parts).decode("utf-8", "replace")).strip()


def strip_mpi_calls(text: str, lang: str) -> Stripped:
    """The file without its MPI calls, and the calls (see the module's docstring)."""
    source = text.encode("utf-8", "surrogateescape")
    tree = parse(source, lang)
    root = tree.root_node
    comments: list[tuple[int, int]] = []
    functions: list[str] = []
    found = []
    errors = 0
    for node in _walk(root):
        if node.type == "comment":
            comments.append((node.start_byte, node.end_byte))
        elif node.type == "function_definition":
            functions.append(_function_name(node))
        elif node.is_error or node.is_missing:
            errors += 1
        elif node.type == "call_expression" and _callee(node):
            found.append(node)
    for node in _walk(root) if root.has_error else ():  # an MPI call the parser could not make out
        if node.is_error and (hidden := next((i for i in _walk(node) if _names_a_call(i, source)), None)):
            raise ParseError(f"{hidden.text.decode('utf-8', 'replace')} at line {hidden.start_point[0] + 1} lies in "
                             f"code the parser cannot read", node.start_point[0] + 1)
    found.sort(key=lambda c: c.start_byte)
    outermost = [c for c in found if not any(o.start_byte <= c.start_byte and c.end_byte <= o.end_byte and o != c
                                             for o in found)]
    for call in outermost:
        if call.has_error:
            raise ParseError(f"{_callee(call)} at line {call.start_point[0] + 1} is a call the parser cannot read",
                             call.start_point[0] + 1)
    removals = [_removal(source, call, comments) for call in outermost]
    code, points = _apply(source, removals)
    calls = _number(code, removals, points)
    return Stripped(code=code, calls=calls, functions=functions, parse_errors=errors)


@dataclass
class _Removal:
    call: object  # the call_expression node
    start: int  # bytes removed: [start, end)
    end: int
    whole_lines: bool
    text: str
    arguments: list[str]


def _line_start(source: bytes, at: int) -> int:
    return source.rfind(b"\n", 0, at) + 1


def _line_end(source: bytes, at: int) -> int:
    end = source.find(b"\n", at)
    return len(source) if end < 0 else end


def _blank(source: bytes, start: int, end: int, comments: list[tuple[int, int]]) -> bool:
    """Whether source[start:end] holds nothing but spaces and whole comments (a comment that begins or
    ends outside it must not lose its other end)."""
    text = bytearray(source[start:end])
    for c_start, c_end in comments:
        if start <= c_start and c_end <= end:
            text[c_start - start:c_end - start] = b" " * (c_end - c_start)
    return not text.strip()


def _removal(source: bytes, call, comments: list[tuple[int, int]]) -> _Removal:
    argument_list = call.child_by_field_name("arguments")
    args = [_one_line(source, a.start_byte, a.end_byte, comments)
            for a in (argument_list.named_children if argument_list is not None else []) if a.type != "comment"]
    statement = call.parent if call.parent is not None and call.parent.type == "expression_statement" else None
    if statement is not None and statement.named_child_count == 1:
        start, end = statement.start_byte, statement.end_byte
        first, last = _line_start(source, start), _line_end(source, end)
        if _blank(source, first, start, comments) and _blank(source, end, last, comments):
            indent = source[first:start].decode("utf-8", "replace")
            indent = indent[: len(indent) - len(indent.lstrip())]
            text = indent + _one_line(source, start, end, comments)
            return _Removal(call, first, min(last + 1, len(source)), True, text, args)
        return _Removal(call, start, end, False, _one_line(source, start, end, comments), args)
    text = _one_line(source, call.start_byte, call.end_byte, comments) + ";"
    return _Removal(call, call.start_byte, call.end_byte, False, text, args)


def _apply(source: bytes, removals: list[_Removal]) -> tuple[str, list[int]]:
    """The source without the removed bytes, and where each removal now is (a byte offset in the result)."""
    kept, points, at, size = [], [], 0, 0
    for r in removals:  # in source order, never overlapping (outermost calls only)
        kept.append(source[at:r.start])
        size += r.start - at
        points.append(size)
        at = r.end
    kept.append(source[at:])
    return b"".join(kept).decode("utf-8", "replace"), points


def _number(code: str, removals: list[_Removal], points: list[int]) -> list[MpiCall]:
    encoded = code.encode("utf-8")
    calls, previous, k = [], None, 0
    for order, (r, point) in enumerate(zip(removals, points)):
        line = encoded.count(b"\n", 0, point) + 1
        if r.whole_lines:  # it now stands before `line`; the calls removed there together count 1, 2, ...
            k = k + 1 if previous == (point, True) else 1
        else:
            k = 0
        previous = (point, r.whole_lines)
        node = r.call
        definition = _inside(node, {"function_definition"})
        calls.append(MpiCall(name=_callee(node), arguments=r.arguments, line=node.start_point[0] + 1,
                             end_line=node.end_point[0] + 1, column=node.start_point[1], order=order,
                             kind="statement" if r.whole_lines else "inline",
                             function=_function_name(definition) if definition is not None else "",
                             L=line, k=k, text=r.text))
    return calls

"""What the card says of each library of a corpus, and what a failed file failed of.

`describe(library)` is the library's provenance as the card shows it (logical name,
Debian package, version, SPDX licence, the installed libraries it needs) with the
number of its proofs that end in ``Qed``/``Defined`` in the source text itself (the
sentence splitter, no Coq): the denominator of its extracted share.

`error_reason(message)` names why Coq refused a file, from Coq's own message, so that
the errors table counts missing libraries, missing plugins and so on apart.
"""

from __future__ import annotations

import re
from typing import Any

from ..coq.sentences import SentenceError, split_sentences
from ..coq.syntax import command
from .coq_project import CoqLibrary

COMPLETE_ENDINGS = ("Qed", "Defined")

_REASONS = [  # Coq's message -> reason (first match wins)
    (r"Cannot find a physical path bound to logical path|Unable to locate library|Cannot load .*: no physical path",
     "missing-library"),
    (r"Dynlink|Cannot find plugin|findlib|\.cmxs|Declare ML Module|plugin", "missing-plugin"),
    (r"Compiled library .* makes inconsistent assumptions|inconsistent assumptions over library", "inconsistent-vo"),
    (r"Syntax error|Lexer:|Illegal begin of|Unknown interpretation for notation", "parse"),
]


def error_reason(message: str, default: str = "coq-error") -> str:
    for pattern, reason in _REASONS:
        if re.search(pattern, message, re.IGNORECASE):
            return reason
    return default


def complete_proofs_in_source(text: str) -> int:
    """Sentences that close a proof with Qed or Defined (0 when the text does not split)."""
    try:
        return sum(1 for s in split_sentences(text) if command(s.text) in COMPLETE_ENDINGS)
    except SentenceError:
        return 0


def describe(library: CoqLibrary) -> dict[str, Any]:
    files = library.files()
    proofs = 0
    for f in files:
        try:
            proofs += complete_proofs_in_source(f.read_bytes().decode("utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
    return {"name": library.name, "logical": library.logical, "package": library.package,
            "version": library.version, "license": library.license, "depends": list(library.depends),
            "files": len(files), "complete_proofs_in_source": proofs}

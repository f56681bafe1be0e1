"""The Coq card's per-library table and its comparison with the best-known Coq corpora.

One row per library (``describe`` in extract/coq_libraries.py gives its provenance and
the Qed/Defined proofs of its source): files (failed), theorems, traced tactics,
premises defined (the corpus) and premise uses (in tactics), licence, the extracted
share (Qed/Defined proofs extracted with their states over those in the source
text), and the failed files by reason.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

COMPLETE_ENDINGS = ("Qed", "Defined")

# Sizes of the corpora readers compare with, and where each number comes from.
REFERENCE_CORPORA = [
    ("CoqGym", "71K proofs from 123 projects, Coq 8.9, with proof states",
     ("Yang & Deng, *Learning to Prove Theorems via Interacting with Proof Assistants*, ICML 2019 "
      "(arXiv:1905.09381), abstract")),
    ("coq-facts-props-proofs (gen0-v1)",
     ("from over 10,000 Coq source files of 142 repositories; 100K-1M rows; "
      "statements, proofs and facts as text, no proof states"),
     ("Florath, arXiv:2403.12627, abstract; the Hub page of florath/coq-facts-props-proofs-gen0-v1 "
      "(size category, source repositories)")),
]


def _extracted(t: dict) -> bool:
    """A complete proof that came out with its states (whole records: initial_goals; compact ones,
    extract/state_store.py: the initial state's id)."""
    return (t.get("ending") in COMPLETE_ENDINGS and not t.get("admitted")
            and bool(t.get("initial_goals") or t.get("initial") or t.get("traced_tactics")))


def library_rows(raw: dict[str, list[dict]], libraries: list[dict]) -> list[dict[str, Any]]:
    rows = []
    for lib in libraries:
        name = lib["name"]
        theorems = [t for t in raw["theorems"] if (t.get("provenance") or {}).get("project", name) == name]
        corpus = [c for c in raw["corpus"] if c.get("project") == name]
        errors = [e for e in raw["errors"] if e.get("project") == name]
        in_source = lib.get("complete_proofs_in_source", 0)
        extracted = sum(1 for t in theorems if _extracted(t))
        rows.append({
            **lib, "files_failed": len(errors), "theorems": len(theorems), "complete_extracted": extracted,
            "extracted_share": round(extracted / in_source, 4) if in_source else None,
            "traced_tactics": sum(len(t.get("traced_tactics") or ()) for t in theorems),
            "premises": sum(len(c.get("premises") or ()) for c in corpus),
            "premise_uses": sum(len(s.get("premises") or ()) for t in theorems for s in t.get("traced_tactics") or ()),
            "errors_by_reason": dict(Counter(e.get("reason", "") for e in errors).most_common()),
        })
    return rows


def library_table(rows: list[dict[str, Any]]) -> str:
    """Markdown: the table per library, then the comparison with CoqGym and coq-facts-props-proofs."""
    lines = ["### Libraries", "",
             ("| library | package | version | licence | files (failed) | theorems | Qed/Defined extracted / in source "
              "| traced tactics | premises (uses) | errors by reason |"),
             "|---|---|---|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        share = f"{r['extracted_share']:.1%}" if r["extracted_share"] is not None else "n/a"
        errors = ", ".join(f"{k}: {v}" for k, v in r["errors_by_reason"].items()) or "none"
        needs = f" (needs {', '.join(r['depends'])})" if r.get("depends") else ""
        logical = f" ({r['logical']})" if r.get("logical") and r["logical"] != r["name"] else ""
        lines.append(f"| `{r['name']}`{logical}{needs} | {r.get('package') or '-'} | {r.get('version') or '-'} "
                     f"| {r.get('license') or 'unknown'} | {r['files']} ({r['files_failed']}) | {r['theorems']} "
                     f"| {r['complete_extracted']} / {r.get('complete_proofs_in_source', 0)} ({share}) "
                     f"| {r['traced_tactics']} | {r['premises']} ({r['premise_uses']}) | {errors} |")
    total = {k: sum(r[k] for r in rows) for k in ("files", "theorems", "complete_extracted", "traced_tactics")}
    lines += ["", "### Compared with other Coq corpora", "",
              "| corpus | size | source of the number |", "|---|---|---|",
              (f"| this one | {total['theorems']} theorems ({total['complete_extracted']} Qed/Defined with states, "
               f"{total['traced_tactics']} traced tactics) from {len(rows)} libraries, {total['files']} files | "
               "this card |")]
    lines += [f"| {name} | {size} | {where} |" for name, size, where in REFERENCE_CORPORA]
    return "\n".join(lines)

"""Traced theorems in compact form and back: states by content hash, a file-prefix prelude by its length.

A state is stored packed: per goal, its hypotheses as the text Coq printed (names, type and
body parse back from it) and its conclusion; ``state_before``/``state_after`` (text) and
``goals_before``/``goals_after`` (structured) are both rebuilt from it. `compact_result`
turns one file's result (extract/coq.py) into what ``files/<key>.json`` holds plus the
objects it names; `inflate_theorem` is the inverse, reading objects from a store
(state_store.py, whose `read_theorems` is the reader to use).
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import Any, Protocol

from ..coq.goals import NO_GOALS, SEPARATOR, Goal, Hypothesis

STATE, SOURCE, RECORDS = 0, 1, 2  # object kinds


class Objects(Protocol):
    def get(self, oid: str) -> Any: ...


def canonical_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def object_id(value: Any) -> str:
    """A content hash: 96 bits of sha256 (a collision among 10^10 objects has odds below 10^-8)."""
    return hashlib.sha256(canonical_json(value).encode("utf-8", "surrogatepass")).hexdigest()[:24]


# ----------------------------------------------------------------------------- states


def pack_goals(goals: list[dict]) -> list:
    """Goals as [[hypothesis, ...], conclusion] each; a hypothesis as the text Coq printed
    when parsing that text gives it back (names, type and body), else whole."""
    return [[[h["text"] if h.get("text") and _hypothesis(h["text"]) == h else h for h in g["hypotheses"]],
             g["conclusion"]] for g in goals]


@lru_cache(maxsize=1 << 16)
def _parsed(text: str) -> tuple[tuple[str, ...], str, str | None]:
    h = Hypothesis.parse(text)
    return h.names, h.type, h.body


def _hypothesis(h: str | dict) -> dict:
    if isinstance(h, dict):
        return h
    names, type_, body = _parsed(h)
    return {"names": list(names), "type": type_, "body": body, "text": h}


def unpack_goals(packed: list) -> list[dict]:
    return [{"hypotheses": [_hypothesis(h) for h in hyps], "conclusion": conclusion} for hyps, conclusion in packed]


def _packed_text(packed: list) -> str:
    """`state_text(unpack_goals(packed))`, without parsing: a packed hypothesis's text is what Coq printed."""
    def text(h: str | dict) -> str:
        return h if isinstance(h, str) else str(Hypothesis(tuple(h["names"]), h["type"], h.get("body"), h.get("text", "")))

    return "\n\n".join("\n".join([*map(text, hyps), SEPARATOR, c]) for hyps, c in packed) if packed else NO_GOALS


def state_text(goals: list[dict]) -> str:
    """The goals as coqtop prints them (`str(Goals)`)."""
    return "\n\n".join(str(Goal.from_dict(g)) for g in goals) if goals else NO_GOALS


def _state_ref(goals: list[dict], objects: dict) -> str:
    packed = pack_goals(goals)
    oid = object_id(packed)
    objects[oid] = (STATE, packed)
    return oid


# ----------------------------------------------------------------------------- records


def compact_theorem(t: dict, source: str | None, objects: dict) -> dict:
    """A full theorem record -> its compact form; what it names is added to `objects`."""
    out = {k: v for k, v in t.items() if k not in ("initial_goals", "traced_tactics", "prelude")}
    out["initial"] = _state_ref(t["initial_goals"], objects)
    prelude = t.get("prelude") or ""
    if source and prelude and source.startswith(prelude):
        out["prelude_chars"] = len(prelude)
    else:
        out["prelude"] = prelude
    steps = []
    for s in t["traced_tactics"]:
        step = {k: v for k, v in s.items() if k not in ("state_before", "state_after", "goals_before", "goals_after")}
        for side in ("before", "after"):
            step[side] = _state_ref(s[f"goals_{side}"], objects)
            if state_text(s[f"goals_{side}"]) != s[f"state_{side}"]:
                step[f"state_{side}"] = s[f"state_{side}"]  # never seen; kept so that nothing is lost
        steps.append(step)
    out["traced_tactics"] = steps
    return out


def inflate_theorem(t: dict, store: Objects | None) -> dict:
    """A compact theorem record -> the full one (a full one is returned as it is)."""
    if "initial" not in t:
        return t
    if store is None:
        raise ValueError(f"{t.get('full_name')}: a theorem stored by state id, but no store to read states from")
    out: dict[str, Any] = {}
    for key, value in t.items():
        if key == "initial":
            out["initial_goals"] = unpack_goals(store.get(value))
        elif key == "prelude_chars":
            out["prelude"] = store.get(t["provenance"]["sha256"])[:value]
        elif key == "traced_tactics":
            out[key] = [_inflate_step(s, store) for s in value]
        else:
            out[key] = value
    return out


def _inflate_step(s: dict, store: Objects) -> dict:
    packed = {side: store.get(s[side]) for side in ("before", "after")}
    return {"tactic": s["tactic"],
            "state_before": s["state_before"] if "state_before" in s else _packed_text(packed["before"]),
            "state_after": s["state_after"] if "state_after" in s else _packed_text(packed["after"]),
            "goals_before": unpack_goals(packed["before"]), "goals_after": unpack_goals(packed["after"]),
            **{k: v for k, v in s.items() if k not in ("tactic", "before", "after", "state_before", "state_after")}}


def _compact_task(task: dict, source: str | None) -> dict:
    prelude = task.get("prelude") or ""
    if source and prelude and source.startswith(prelude):
        return {**{k: v for k, v in task.items() if k != "prelude"}, "prelude_chars": len(prelude)}
    return task


def inflate_task(task: dict, store: Objects) -> dict:
    if "prelude_chars" not in task:
        return task
    prelude = store.get(task["provenance"]["sha256"])[:task["prelude_chars"]]
    return {**{k: v for k, v in task.items() if k != "prelude_chars"}, "prelude": prelude}


def compact_result(result: dict) -> tuple[dict, dict[str, tuple[int, Any]]]:
    """One file's result (extract/coq.py) -> (what files/<key>.json holds, the objects it names)."""
    objects: dict[str, tuple[int, Any]] = {}
    source = result.get("source")
    if source is not None:
        objects[result["sha256"]] = (SOURCE, source)
    records = {"theorems": [compact_theorem(t, source, objects) for t in result["theorems"]],
               "tasks": [_compact_task(t, source) for t in result["tasks"]],
               "facts": result["facts"], "corpus": result["corpus"]}
    rid = object_id(records)
    objects[rid] = (RECORDS, records)
    summary = {k: v for k, v in result.items() if k not in ("source", *records)}
    summary.update(records=rid, counts={k: len(v) for k, v in records.items() if isinstance(v, list)})
    return summary, objects

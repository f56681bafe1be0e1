"""A stand-in for `fstar.exe --ide` that replays a recorded real F* transcript (a test fixture).

    python fstar_replay.py STEM [--serve] [--crash-at QID] [--hang-at QID]

STEM is `tests/recorded/fstar/ide/<Name>` (with `.in`, the requests, and
`.ideout.expected`, F*'s responses). The recorded output went through F*'s
`tests/ide/cleanup.py`; this replay undoes what can be undone, so that the client meets
what live F* prints: a full `protocol-info` line, compact JSON in F*'s own key order (kind,
query-id, then the rest), `u[...]` back to `u<digits>`, full paths for library file names, a
`progress` message before every push's response, and a line of debug output that is not JSON.

Default mode: each request read must be the next recorded one (same query, same args; the
query id is the client's own and is written back into the replies); anything else stops the
replay with exit status 3, so a client that encodes a request wrongly cannot pass.

`--serve` (for the checker): `push-partial-checked-file` answers success with `null` and
`pop` answers `null` (the transcripts have no `push-partial-checked-file`: these two answers
are synthesised, in the recorded shape of `pop`'s); a `push` is answered with the recorded
response of the first recorded full push whose code ends the pushed code (the checker puts its
scaffold before the candidate).

`--crash-at QID`: for recorded query QID, print its messages and half its response line, then
exit 1. `--hang-at QID`: for that query, print nothing and sleep.
"""

from __future__ import annotations

import json
import re
import sys
import time

FEATURES = ["autocomplete", "autocomplete/context", "compute", "compute/reify", "compute/pure-subterms",
            "describe-protocol", "describe-repl", "exit", "lookup", "lookup/context", "lookup/documentation",
            "lookup/definition", "peek", "pop", "push", "search", "segment", "vfs-add", "tactic-ranges", "interrupt",
            "progress", "full-buffer", "format", "restart-solver", "cancel"]
LIBRARY = "/opt/fstar/lib/fstar/ulib/"
_U = re.compile(r"u\[\.\.\.\]")


def load(stem: str) -> tuple[list[dict], dict[str, list[dict]]]:
    with open(stem + ".in", encoding="utf-8") as f:
        requests = [json.loads(line) for line in f if line.strip()]
    replies: dict[str, list[dict]] = {}
    with open(stem + ".ideout.expected", encoding="utf-8") as f:
        for line in f:
            obj = json.loads(line)
            if obj.get("kind") != "protocol-info":
                replies.setdefault(str(obj["query-id"]), []).append(obj)
    return requests, replies


def undo_cleanup(obj, counter=[100]):  # noqa: B006 - one counter for the whole replay
    if isinstance(obj, dict):
        out = {k: undo_cleanup(v) for k, v in obj.items()}
        if isinstance(out.get("fname"), str) and out["fname"].startswith(("FStar.", "Prims.")):
            out["fname"] = LIBRARY + out["fname"]
        return out
    if isinstance(obj, list):
        return [undo_cleanup(v) for v in obj]
    if isinstance(obj, str) and "u[...]" in obj:
        counter[0] += 1
        return _U.sub(lambda _: f"u{counter[0]}", obj)
    return obj


def fstar_order(obj: dict, qid: str) -> dict:
    """F*'s own key order (kind, query-id first), the client's query id."""
    first = {"kind": obj["kind"], "query-id": qid}
    if obj["kind"] == "response":
        first.update(status=obj["status"], response=undo_cleanup(obj["response"]))
    else:
        first.update(level=obj["level"], contents=undo_cleanup(obj["contents"]))
    return first


def emit(obj: dict | str, partial: bool = False) -> None:
    text = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
    if partial:
        sys.stdout.write(text[: len(text) // 2])
        sys.stdout.flush()
        sys.exit(1)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def answer(recorded_id: str, qid: str, replies: dict, query: str, crash_at: str | None, hang_at: str | None) -> None:
    if recorded_id == hang_at:
        time.sleep(3600)
    lines = replies[recorded_id]
    for obj in lines[:-1]:
        emit(fstar_order(obj, qid))
    if query in ("push", "peek"):
        emit({"kind": "message", "query-id": qid, "level": "progress",
              "contents": {"stage": "full-buffer-fragment-started"}})
    emit(fstar_order(lines[-1], qid), partial=recorded_id == crash_at)


def main(argv: list[str]) -> int:
    stem, serve = argv[0], "--serve" in argv
    crash_at = argv[argv.index("--crash-at") + 1] if "--crash-at" in argv else None
    hang_at = argv[argv.index("--hang-at") + 1] if "--hang-at" in argv else None
    requests, replies = load(stem)
    emit({"kind": "protocol-info", "version": 2, "features": FEATURES})
    emit("(debug) F* replay started")  # live F* may print lines that are not JSON
    position = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        qid, query, args = str(request["query-id"]), request["query"], request.get("args", {})
        if serve:
            if query in ("push-partial-checked-file", "pop"):
                emit({"kind": "response", "query-id": qid, "status": "success", "response": None})
                continue
            code = args.get("code", "").strip()
            match = next((r for r in requests if r["query"] == "push" and r["args"].get("kind") == "full"
                          and r["args"]["code"].strip() and code.endswith(r["args"]["code"].strip())), None)
            if match is None:
                sys.stderr.write(f"replay: no recorded push ends {code[-80:]!r}\n")
                return 3
            answer(str(match["query-id"]), qid, replies, query, crash_at, hang_at)
            continue
        expected = requests[position] if position < len(requests) else None
        if expected is None or expected["query"] != query or expected.get("args", {}) != args:
            sys.stderr.write(f"replay: request {qid} {query} {json.dumps(args)[:200]} is not the recorded "
                             f"{json.dumps(expected)[:200]}\n")
            return 3
        position += 1
        answer(str(expected["query-id"]), qid, replies, query, crash_at, hang_at)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

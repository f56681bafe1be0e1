"""A live Coq proof session for one theorem (the counterpart of LeanDojo's Dojo).

    with CoqSession("Require Import Lia.", "Lemma foo (n : nat) : n + 0 = n.") as coq:
        s0 = coq.initial_state()
        s1 = coq.run_tactic(s0, "induction n.")     # TacticState
        coq.run_tactic(s0, "lia.")                  # ProofFinished: branched from s0

Every state is a node of a tree: its parent and the tactic that led to it. coqidetop's
document is one chain of sentences; to run a tactic on any state the session keeps the
part of the chain the state shares with the current one, backtracks to it with
Edit_at, re-adds the rest of the state's own path (usually nothing: search expands one
state many times in a row) and adds the tactic. So after a restart (a timeout or a
crash kills coqidetop) the next tactic on any earlier state still works: the chain
starts again at the statement and the state's path is replayed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ...coq import CoqDied, CoqError, CoqIdeTop, CoqTimeout
from ...coq.goals import NO_GOALS, Goals
from ...coq.sentences import SentenceError, split_sentences
from ...coq.syntax import TACTIC_FORBIDDEN_COMMANDS_RE, TACTIC_FORBIDDEN_WORDS_RE
from ...core import ProofsmithError
from .states import ProofFinished, TacticError, TacticResult, TacticState

# What a tactic may not do: end, abandon or cheat the proof (anywhere in it), or be a
# vernacular command that rewinds, adds assumptions or changes the environment.
FORBIDDEN_WORDS = TACTIC_FORBIDDEN_WORDS_RE
FORBIDDEN_COMMANDS = TACTIC_FORBIDDEN_COMMANDS_RE


@dataclass
class _Node:
    parent: int | None
    sentences: tuple[str, ...]  # what was added after the parent to reach this state
    pp: str
    goals: int = 1


class CoqSession:
    """One theorem opened in its file's context; states can be revisited in any order."""

    def __init__(
        self,
        prelude: str,
        statement: str,
        *,
        tactic_timeout: float = 5.0,
        hard_timeout: float | None = None,
        coq_args: Sequence[str] = (),
        sandbox: str | None = "auto",
        memory_mb: int = 2048,
        cpu_s: float = 3600.0,
    ):
        """`sandbox`: a backend name, "auto" (the default backend) or None (a plain child
        process under an address-space limit). `coq_args` are coqc's (-Q/-R load paths, as
        the checker takes them from a task's meta). `tactic_timeout` is Coq's own Timeout per
        sentence; `hard_timeout` (default 2x + 5 s) kills and restarts coqidetop."""
        self.tactic_timeout = tactic_timeout
        self.restarts = 0
        try:
            self._context = [s.text for s in split_sentences(prelude)] + [s.text for s in split_sentences(statement)]
        except SentenceError as exc:
            raise ProofsmithError(f"cannot split the theorem into sentences: {exc}") from exc
        # the client's own timeout is the backstop for what Coq's Timeout cannot interrupt
        timeout = hard_timeout or 2 * tactic_timeout + 5
        if sandbox is None:
            self._coq = CoqIdeTop(args=coq_args, timeout=timeout, memory_mb=memory_mb)
        else:
            from ...checkers.sandbox import Limits, get_sandbox

            limits = Limits(wall_s=cpu_s, cpu_s=cpu_s, memory_mb=memory_mb, processes=16)
            from ...checkers.coq import load_path_dirs

            backend = get_sandbox(None if sandbox == "auto" else sandbox).seeing(load_path_dirs(list(coq_args)))
            self._coq = CoqIdeTop(args=coq_args, timeout=timeout, sandbox=backend, limits=limits)
        self._nodes: dict[int, _Node] = {}
        self._chain: list[tuple[int, int]] = []  # the document now: (node id, Coq state id) from the root
        root_goals = self._open()
        if root_goals is None or root_goals.finished:
            self.close()
            raise ProofsmithError(f"the statement does not open a proof: {statement.strip()[:80]!r}")
        self._nodes[0] = _Node(None, (), _pp(root_goals), _count(root_goals))

    # -- lifecycle -------------------------------------------------------------------

    def _open(self) -> Goals | None:
        """Add the prelude and the statement to a fresh document; the chain is the root."""
        try:
            for sentence in self._context:
                self._coq.add(sentence)
            goals = self._coq.goals()
        except CoqError as exc:
            self.close()
            raise ProofsmithError(f"the theorem's context does not check: {exc.message.splitlines()[0][:200]}") from exc
        self._chain = [(0, self._coq.tip)]
        return goals

    def _restart(self) -> None:
        self.restarts += 1
        self._coq.restart()
        self._open()

    def close(self) -> None:
        self._coq.close()

    def __enter__(self) -> CoqSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- states ----------------------------------------------------------------------

    def initial_state(self) -> TacticState:
        return TacticState(self._nodes[0].pp, 0, self._nodes[0].goals)

    def path(self, state_id: int) -> list[int]:
        """Node ids from the root to `state_id`."""
        ids = []
        node_id: int | None = state_id
        while node_id is not None:
            ids.append(node_id)
            node_id = self._nodes[node_id].parent
        return ids[::-1]

    def proof(self, state_id: int) -> list[str]:
        """The tactics that lead from the statement to `state_id`."""
        return [s for node_id in self.path(state_id) for s in self._nodes[node_id].sentences]

    def _goto(self, state_id: int) -> int:
        """Make `state_id` the tip of Coq's document; returns its Coq state id."""
        path = self.path(state_id)
        shared = 0
        while shared < min(len(path), len(self._chain)) and self._chain[shared][0] == path[shared]:
            shared += 1
        del self._chain[shared:]
        if self._coq.tip != self._chain[-1][1]:
            self._coq.edit_at(self._chain[-1][1])
        for node_id in path[shared:]:  # replay what this state does not share with the chain
            for sentence in self._nodes[node_id].sentences:
                self._coq.add(self._timed(sentence))
            self._coq.observe()
            self._chain.append((node_id, self._coq.tip))
        return self._chain[-1][1]

    def _timed(self, sentence: str) -> str:
        # Coq's own Timeout ends a slow tactic with an ordinary error: no restart needed
        plain = not sentence[0].isalpha() or sentence.startswith("Proof")
        return sentence if plain else f"Timeout {max(1, round(self.tactic_timeout))} {sentence}"

    def run_tactic(self, state: TacticState, tactic: str) -> TacticResult:
        """Run `tactic` (one or more sentences) in `state`."""
        if state.id not in self._nodes:
            return TacticError(f"unknown state id {state.id}")
        try:
            sentences = tuple(s.text for s in split_sentences(tactic))
        except SentenceError as exc:
            return TacticError(f"cannot parse the tactic: {exc}")
        if not sentences:
            return TacticError("empty tactic")
        for sentence in sentences:
            if bad := FORBIDDEN_WORDS.search(sentence) or FORBIDDEN_COMMANDS.match(sentence):
                return TacticError(f"forbidden in a tactic: {bad.group(1)}")
        parent = None
        try:
            parent = self._goto(state.id)
            for sentence in sentences:
                self._coq.add(self._timed(sentence))
            goals = self._coq.goals()
        except (CoqTimeout, CoqDied) as exc:
            self._restart()
            return TacticError(exc.message, timeout=isinstance(exc, CoqTimeout))
        except CoqError as exc:
            self._back_to(parent)
            return TacticError(exc.message, timeout=exc.message.startswith("Timeout"))
        if goals is None:  # left proof mode: not something a tactic may do
            self._back_to(parent)
            return TacticError("the tactic left proof mode")
        node_id = len(self._nodes)
        self._nodes[node_id] = _Node(state.id, sentences, _pp(goals), _count(goals))
        self._chain.append((node_id, self._coq.tip))
        if goals.finished:
            return ProofFinished(node_id)
        return TacticState(self._nodes[node_id].pp, node_id, self._nodes[node_id].goals)

    def query(self, text: str) -> str:
        """A query (Print, Check, About...) in the theorem's context: its output, '' when Coq refuses it."""
        try:
            return self._coq.query(text, self._chain[0][1])
        except (CoqTimeout, CoqDied):
            self._restart()
            return ""
        except CoqError:
            return ""

    def _back_to(self, coq_state: int | None) -> None:
        try:
            if coq_state is None:
                raise CoqError("no state to go back to")
            self._coq.edit_at(coq_state)
        except CoqError:  # Coq could not backtrack: start again (states are replayed on demand)
            self._restart()


def _pp(goals: Goals | None) -> str:
    """The state as the model and the merging of seen states see it."""
    if goals is None:
        return NO_GOALS
    text = str(goals)
    if not goals.foreground and _background(goals):
        text = "(* unfocused *)\n" + "\n\n".join(str(g) for g in _background(goals))
    return text


def _count(goals: Goals) -> int:
    return len(goals.foreground) + len(_background(goals))


def _background(goals: Goals) -> list:
    """The unfocused goals, flat (the client has given them as (before, after) groups)."""
    flat: list = []
    for item in goals.background:
        flat.extend(item if isinstance(item, (tuple, list)) else [item])
    return flat

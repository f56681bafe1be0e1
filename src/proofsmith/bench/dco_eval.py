"""`bench dco`'s pass@k evaluation: N whole proofs per held-out theorem, each one judged by Coq.

Sampling: every theorem's N rows go through the engine's continuous batching at once
(`provers.sampling.sample_rows`: each prompt prefilled once, one seeded generator per
row, so a row's proof depends only on (seed, theorem, sample)).

Checking: identical samples are judged once. A theorem's distinct proofs are first
replayed sentence by sentence in one live Coq session (`CoqSession`, sandboxed; proofs
that share their first sentences share those steps, a prefix tree over the session's
states); a proof the session cannot finish (a failing or timed-out sentence, goals left
at its end, sentences after the last goal closed) fails there. Only the proofs the
session finishes go to the real checker (`core.check_many` with the Coq checker, coqc
in the sandbox), whose verdict is the one that counts. On a corpus theorem most
samples fail at their first sentences, so this costs milliseconds per sample where
coqc costs a process and the file's imports.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

MAX_NEW_TOKENS = 48
TACTIC_TIMEOUT = 5.0  # seconds per sentence in the live session (Coq's Timeout)


def sample_all(lm, tests: Sequence[dict], n: int, seed: int = 0, batch: int = 64) -> Iterator[tuple[int, list[str]]]:
    """(test index, its n proofs) as each theorem's rows finish; temperature 1, the bare layout."""
    from ..provers.decoding.engine import cut, stop_rule
    from ..provers.sampling import sample_rows
    from ..provers.search.prompts import clean_proof
    from ..provers.training.data import proof_prompt

    tok = lm.tokenizer
    prompts = [tok(proof_prompt(t["statement"], "bare"), add_special_tokens=False)["input_ids"] for t in tests]
    eos, stop_fn = stop_rule(tok, ("Qed.",))
    pending: dict[int, dict[int, str]] = {}
    for t, j, row in sample_rows(lm.model, prompts, [t["task_id"] for t in tests], n, seed=seed, temperature=1.0,
                                 top_p=1.0, max_new_tokens=MAX_NEW_TOKENS, eos_token_id=eos, stop_fn=stop_fn,
                                 pad_token_id=tok.pad_token_id or 0, batch=max(batch, n), draft=False):
        pending.setdefault(t, {})[j] = clean_proof(cut(tok, row.tokens, row.logprobs, ("Qed.",)).text)
        if len(pending[t]) == n:
            done = pending.pop(t)
            yield t, [done[k] for k in range(n)]


def judge(test: dict, proofs: Sequence[str], checker, sandbox: str | None = "auto") -> dict[str, bool]:
    """Each distinct proof -> passed (the checker's verdict on those the live session finishes)."""
    from ..core import Candidate, ProofsmithError, Task, check_many

    distinct = list(dict.fromkeys(proofs))
    finished: list[str] = []
    try:
        finished = _finished_in_session(test, [p for p in distinct if p], sandbox)
    except ProofsmithError:  # the theorem does not open in a session: coqc judges every proof
        finished = [p for p in distinct if p]
    task = Task(id=test["task_id"], kind="coq", statement=test["statement"], context=test["prelude"],
                meta=test.get("meta") or {})
    verdicts = check_many(checker, [(task, Candidate(task.id, p)) for p in finished])
    passed = {p for p, v in zip(finished, verdicts) if v.passed}
    return {p: p in passed for p in distinct}


def _finished_in_session(test: dict, proofs: Sequence[str], sandbox: str | None) -> list[str]:
    from ..coq.sentences import SentenceError, split_sentences
    from ..provers.search.coq_session import CoqSession
    from ..provers.search.states import ProofFinished, TacticState

    finished = []
    with CoqSession(test["prelude"], test["statement"], tactic_timeout=TACTIC_TIMEOUT, sandbox=sandbox,
                    coq_args=(test.get("meta") or {}).get("coq_args", ())) as coq:
        reached: dict[tuple[str, ...], object] = {(): coq.initial_state()}  # sentences so far -> result
        for proof in proofs:
            try:
                sentences = tuple(s.text for s in split_sentences(proof))
            except SentenceError:
                continue
            result = reached[()]
            for i in range(1, len(sentences) + 1):
                key = sentences[:i]
                if key not in reached:
                    parent = reached[key[:-1]]
                    reached[key] = (coq.run_tactic(parent, sentences[i - 1]) if isinstance(parent, TacticState)
                                    else None)  # a sentence after the proof finished, or after a failure
                result = reached[key]
                if not isinstance(result, TacticState):
                    break
            done = isinstance(result, ProofFinished) or (isinstance(result, TacticState) and result.goals == 0)
            if sentences and done and key == sentences:  # (no goals left inside a bullet: Qed closes it)
                finished.append(proof)
    return finished

import pytest

from proofsmith.coq.sentences import SentenceError, split_sentences, strip_comments


def texts(src):
    return [s.text for s in split_sentences(src)]


def test_dots_comments_strings_bullets_braces():
    src = ('(* a (* nested. *) "*)." *)\nRequire Import Coq.Arith.PeanoNat.\n'
           'Lemma x : Nat.add 1 1 = 2 /\\ True.\nProof.\n  split.\n  - reflexivity.\n  - { exact I. }\n'
           'Qed.\nNotation "a .+ b" := (a + b) (at level 50).\nGoal True. 2: { auto. } auto... Qed.')
    assert texts(src) == ["Require Import Coq.Arith.PeanoNat.", "Lemma x : Nat.add 1 1 = 2 /\\ True.", "Proof.",
                          "split.", "-", "reflexivity.", "-", "{", "exact I.", "}", "Qed.",
                          'Notation "a .+ b" := (a + b) (at level 50).', "Goal True.", "2: {", "auto.", "}",
                          "auto...", "Qed."]


def test_two_dots_do_not_end_a_sentence():
    assert texts("Ltac t := split; [idtac | .. ].\nauto.") == ["Ltac t := split; [idtac | .. ].", "auto."]


def test_positions_are_one_based():
    s = split_sentences("\n  Lemma a : True.\nexact I.")
    assert s[0].span == (2, 3, 2, 18) and s[1].span == (3, 1, 3, 9)


def test_unterminated_input_raises():
    with pytest.raises(SentenceError):
        split_sentences("(* open comment")
    with pytest.raises(SentenceError):
        split_sentences("Lemma a : True")


def test_strip_comments():
    assert strip_comments("apply (* foo *) H.") == "apply H."

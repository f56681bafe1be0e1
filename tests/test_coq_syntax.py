"""Coq's syntax rules in one place (proofsmith.coq.syntax): each rule, and who shares it."""

import pytest

from proofsmith.coq import syntax as S
from proofsmith.coq.syntax import (
    SentenceError,
    Scope,
    blank_comments_and_strings,
    command,
    defined_name,
    focus_end,
    forbidden_use,
    starts_with_tactic_word,
    statement_head_removed,
    strip_comments,
)

# -- comments and strings ----------------------------------------------------------------


def test_nested_comments_are_one_comment():
    assert strip_comments("a (* b (* c *) d *) e.") == "a e."
    assert strip_comments("a (* (* *) still comment *) e.") == "a e."


def test_strings_escape_quotes_by_doubling_and_keep_comment_openers():
    assert strip_comments('idtac "say ""(*"" here". x.') == 'idtac "say ""(*"" here". x.'
    assert S.skip_string('"a""b" c', 0) == 6
    assert S.skip_string('"" c', 0) == 2


def test_a_string_inside_a_comment_hides_a_comment_closer():
    # as in Coq's lexer: the "*)" inside the string does not end the comment
    assert strip_comments('a (* "*)" *) b.') == "a b."
    assert S.skip_comment('(* "*)" *) b', 0) == len('(* "*)" *)')


def test_unterminated_comment_or_string_is_an_error_for_the_splitter():
    with pytest.raises(SentenceError):
        strip_comments("a (* b")
    with pytest.raises(SentenceError):
        strip_comments('a "b')


def test_blanking_keeps_positions_and_newlines():
    text = 'x (* one\ntwo *) "s\ntr" y.'
    blank = blank_comments_and_strings(text)
    assert len(blank) == len(text)
    assert blank.index("y.") == text.index("y.")
    assert blank.count("\n") == 1  # the comment's newline kept, the string's blanked
    assert "one" not in blank and "tr" not in blank and blank.startswith("x ")
    assert '""' in blank  # a string stays a (blank) string


def test_blanking_tolerates_unterminated_text():
    assert blank_comments_and_strings("ok (* admit").strip() == "ok"
    assert blank_comments_and_strings('ok "admit').strip() == 'ok ""'


def test_sentences_and_the_checker_share_one_lexer():
    from proofsmith.checkers import coq as checker
    from proofsmith.coq import sentences

    assert sentences.strip_comments is S.strip_comments
    assert sentences.SentenceError is S.SentenceError
    assert checker.strip_comments_and_strings is S.blank_comments_and_strings
    assert checker.forbidden_use is S.forbidden_use


# -- forbidden commands (the checker's security boundary) -----------------------------------


@pytest.mark.parametrize("proof,word", [
    ("admit.", "admit"),
    ("intros. Admitted.", "Admitted"),
    ("Abort.", "Abort"),
    ("give_up.", "give_up"),
    ("Axiom cheat : False. exact (False_rect _ cheat).", "Axiom"),
    ("Axioms a b : False.", "Axioms"),
    ("Parameter p : False.", "Parameter"),
    ("Hypothesis h : False.", "Hypothesis"),
    ("Hypotheses h : False.", "Hypotheses"),
    ("Variable v : False.", "Variable"),
    ("Context (c : False).", "Context"),
    ("Conjecture c : False.", "Conjecture"),
    ("Reset t.", "Reset"), ("Back 2.", "Back"), ("BackTo 3.", "BackTo"), ("Undo.", "Undo"),
    ("Restart.", "Restart"), ("Drop.", "Drop"),
    ("Declare ML Module \"x\".", "Declare"), ("Extraction t.", "Extraction"), ("Load \"f\".", "Load"),
    ("Require Import Classical.", "Require"),
    ("Unset Guard Checking. exact I.", "Unset Guard Checking"),
    ("Set   Positivity\nChecking.", "Set   Positivity\nChecking"),
    ("Unset Universe Checking.", "Unset Universe Checking"),
    ("#[bypass_check(guard)] Fixpoint f (n : nat) : False := f n.", "bypass_check"),
    ("Typing  Flags.", "Typing  Flags"),
])
def test_forbidden_words_are_found(proof, word):
    assert forbidden_use(proof) == word


def test_unsafe_flag_is_reported_before_other_words():
    assert forbidden_use("admit. Unset Guard Checking.") == "Unset Guard Checking"


@pytest.mark.parametrize("proof", [
    "intros. (* admit *) auto.",
    "(* Axiom (* nested *) Admitted *) exact I.",
    'idtac "admit". exact I.',
    'idtac "say ""Axiom"" again". exact I.',
    "(* \"*)\" Axiom *) exact I.",  # the string keeps the comment open: Axiom is in it
    "apply admitted_lemma. exact Variables_ok. rewrite Context_x.",  # whole words only
    "exact I. (* Set Guard Checking *)",
])
def test_forbidden_words_inside_comments_or_strings_or_longer_names_are_not_flagged(proof):
    assert forbidden_use(proof) is None


def test_a_string_in_a_comment_cannot_hide_a_forbidden_command():
    # Coq reads (* "*)" *) as one comment, so the Axiom after it is real
    assert forbidden_use('(* "*)" *) Axiom cheat : 1 = 2. exact cheat.') == "Axiom"
    assert forbidden_use('(* "*)" *) admit.') == "admit"


def test_search_tactic_rules():
    words, commands = S.TACTIC_FORBIDDEN_WORDS_RE, S.TACTIC_FORBIDDEN_COMMANDS_RE
    for tactic in ("admit.", "Qed.", "now auto. Defined.", "Save t.", 'idtac "admit".'):
        assert words.search(tactic), tactic  # anywhere, even in a string
    for tactic in ("Undo.", "  Set Printing All.", "Require Import Lia.", "Timeout 1 auto.", "Local Axiom x : False."):
        assert commands.match(tactic), tactic
    assert not words.search("apply admitted_lemma.") and not commands.match("auto. Undo.")


# -- keywords ------------------------------------------------------------------------------


@pytest.mark.parametrize("statement,kind,name", [
    ("Theorem foo : True.", "Theorem", "foo"),
    ("  Lemma foo' (n : nat) : n = n.", "Lemma", "foo'"),
    ("#[local] Lemma bar : True.", "Lemma", "bar"),
    ("Local Definition baz : nat := 0.", "Definition", "baz"),
    ("Program Definition p : nat := 0.", "Definition", "p"),
    ("Global Polymorphic Instance i : Foo.", "Instance", "i"),
    ("Example ex_1 : 1 = 1.", "Example", "ex_1"),
    ("CoFixpoint s : stream := s.", "CoFixpoint", "s"),
])
def test_statement_name(statement, kind, name):
    m = S.STATEMENT_NAME_RE.match(statement)
    assert m and (m.group(1), m.group(2)) == (kind, name)


@pytest.mark.parametrize("statement", ["Inductive t := A.", "Time Lemma x : True.", "Lemmas x : True.", "Goal True."])
def test_not_a_checked_statement(statement):
    assert S.STATEMENT_NAME_RE.match(statement) is None


def test_goal_and_proof_openers_and_closers():
    assert S.GOAL_RE.match("  Goal 1 = 1.") and not S.GOAL_RE.match("Goals.")
    assert S.PROOF_START_RE.match("Proof. auto.") and not S.PROOF_START_RE.match("Proofs.")
    assert S.PROOF_END_RE.search("auto. Qed. ") and S.PROOF_END_RE.search("auto. Defined .")
    assert not S.PROOF_END_RE.search("auto. Admitted.") and not S.PROOF_END_RE.search("Qed. auto.")
    assert set(S.GIVE_UP_CLOSERS) <= S.CLOSERS and "Qed" not in S.GIVE_UP_CLOSERS


def test_statement_head_removed():
    assert statement_head_removed("Lemma foo : 1 = 1.") == " : 1 = 1."
    assert statement_head_removed("#[global] Local Theorem M.foo' (n : nat) : n = n.") == " (n : nat) : n = n."
    assert statement_head_removed("Notation x := 1.") == "Notation x := 1."


@pytest.mark.parametrize("text,expected", [
    ("Lemma foo : True.", "Lemma"),
    ("#[export] Hint Resolve foo : core.", "Hint"),
    ("Local Program Definition x := 0.", "Definition"),
    ("Time Fail Succeed Qed.", "Qed"),
    ('Redirect "out" Print foo.', "Print"),
    ("From Coq Require Import List.", "Require"),
    ("(* c *) - auto.", "-"),
    ("{", "{"),
])
def test_command(text, expected):
    assert command(text) == expected


def test_defined_name():
    assert defined_name("Lemma foo : True.") == ("Lemma", "foo")
    assert defined_name("#[local] Instance inst : Foo := {}.") == ("Instance", "inst")
    assert defined_name("Instance : Foo := {}.") is None  # anonymous
    assert defined_name("Polymorphic Cumulative Inductive t := A.") == ("Inductive", "t")
    assert defined_name("Require Import Lia.") is None


def test_scope_follows_modules_and_sections():
    scope = Scope("Top")
    assert scope.update("Module M.") and scope.update("Section S.")
    assert scope.qualify("x") == "Top.M.x" and scope.in_section
    assert not scope.update("Module N := M.")  # defines, does not open
    assert scope.update("End S.") and not scope.in_section
    assert scope.update("Module Type T.") and scope.stack == [("Module", "M"), ("Module", "T")]
    assert scope.update("End M.") and scope.stack == []


def test_a_functor_with_module_constraints_opens_a_scope():
    """`with Module E := M.E` is a constraint, not the body: the functor opens (the stdlib's
    FSetBridge has `compat_P_aux` in two functors; one name for both made a duplicate task id)."""
    scope = Scope("Coq.FSets.FSetBridge")
    assert scope.update("Module DepOfNodep (Import M: S) <: Sdep with Module E := M.E.")
    assert scope.qualify("compat_P_aux") == "Coq.FSets.FSetBridge.DepOfNodep.compat_P_aux"
    assert not scope.update("Module E := E.")  # a definition inside: the scope stays
    scope.update("End DepOfNodep.")
    scope.update("Module N : T with Definition t := nat := Impl.")  # constraints, then the body
    assert scope.qualify("x") == "Coq.FSets.FSetBridge.x"


def test_the_checker_closes_open_scopes_with_the_shared_scope():
    from proofsmith.checkers.coq import open_scopes

    assert open_scopes("Section A. Variable n : nat. Module B.") == "End B.\nEnd A.\n"
    assert open_scopes("Module M. End M.") == ""


# -- bullets and braces --------------------------------------------------------------------


def test_focus_end():
    assert focus_end("-- auto.", 0) == 2
    assert focus_end("+ - auto.", 0) == 1
    assert focus_end("{ auto. }", 0) == 1
    assert focus_end("2: { auto. }", 0) == 4
    assert focus_end("[x]: { auto. }", 0) == 6
    assert focus_end("auto.", 0) is None


# -- tactic words --------------------------------------------------------------------------


def test_tactic_words():
    assert starts_with_tactic_word("  intros n.") and starts_with_tactic_word("unfold f.")
    assert not starts_with_tactic_word("uni_A.") and not starts_with_tactic_word("- auto.")
    assert set(S.TACTIC_START_WORDS) <= S.TACTIC_SYNTAX_WORDS
    assert {"forall", "fun", "Qed", "eq_refl"} <= S.TACTIC_SYNTAX_WORDS
    assert "plus_comm" not in S.TACTIC_SYNTAX_WORDS


def test_everyone_uses_the_shared_rules():
    from proofsmith.datasets.coq import statement_key
    from proofsmith.extract import coq as extract_coq, coq_defs
    from proofsmith.provers.search import coq_session, prompts
    from proofsmith.provers.training import data

    assert prompts.TACTIC_WORDS is S.TACTIC_START_WORDS and prompts.starts_with_tactic_word is starts_with_tactic_word
    assert extract_coq.TACTIC_WORDS is S.TACTIC_SYNTAX_WORDS
    assert coq_defs.Scope is Scope and coq_defs.command is command and coq_defs.CLOSERS is S.CLOSERS
    assert coq_session.FORBIDDEN_WORDS is S.TACTIC_FORBIDDEN_WORDS_RE
    assert data._CLOSER is S.PROOF_END_RE
    assert statement_key("Lemma a (* c *) : 1 =  1.") == statement_key("Theorem b : 1 = 1.") == ": 1 = 1."


@pytest.mark.skipif(__import__("shutil").which("coqc") is None, reason="needs coqc")
def test_the_checker_rejects_an_axiom_after_a_comment_holding_a_string():
    # before the lexer was shared this proof of 1 = 2 passed the checker
    from proofsmith.checkers.coq import CoqChecker
    from proofsmith.core import Candidate, Task

    task = Task(id="bad", kind="coq", statement="Theorem bad : 1 = 2.")
    v = CoqChecker().check(task, Candidate("bad", '(* "*)" *) Axiom cheat : 1 = 2. exact cheat.'))
    assert v.status == "failed" and "Axiom" in v.message
    ok = CoqChecker().check(Task(id="ok", kind="coq", statement="Theorem ok : 1 = 1."),
                            Candidate("ok", '(* "*)" Axiom *) reflexivity.'))
    assert ok.passed, ok.message

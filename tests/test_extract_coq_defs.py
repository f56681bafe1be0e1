from proofsmith.extract.coq_defs import Scope, command, defined_name, definitions


def test_definitions_with_modules_constructors_and_sections():
    src = """Module M.
Inductive t : Set := A : t | B (n : nat) : t.
Section S. Variable x : nat.
Lemma l : x = x. Proof. reflexivity. Qed.
End S.
End M.
Record point := mk { px : nat; py : nat }.
#[global] Instance i : True := I.
"""
    got = {d["full_name"]: (d["kind"], d["start"]) for d in definitions(src, "Lib.F")}
    assert got["Lib.F.M.t"] == ("Inductive", [2, 1]) and got["Lib.F.M.B"][0] == "Constructor"
    assert got["Lib.F.M.l"] == ("Lemma", [4, 1])
    assert got["Lib.F.mk"][0] == "Constructor" and got["Lib.F.py"][0] == "Projection"
    assert got["Lib.F.i"][0] == "Instance"


def test_command_and_names():
    assert command("From Coq Require Import Arith.") == "Require"
    assert command("#[local] Program Definition f := 1.") == "Definition"
    assert command("- auto.") == "-"
    assert defined_name("Local Lemma foo' : True.") == ("Lemma", "foo'")
    assert defined_name("Instance : Foo.") is None
    scope = Scope("Top")
    assert scope.update("Module Type T.") and scope.qualify("x") == "Top.T.x"
    assert not scope.update("Module N := Nat.")

"""MPIrigen's location, function and argument scores on examples worked out by hand."""

from __future__ import annotations

import json

import pytest

from proofsmith.eval.mpirigen import all_scores, covered, location, parse_labels, score, score_program

TRUTH_A = ("(2 1,   MPI_Init(&argc, &argv);) (2 2,   MPI_Comm_rank(MPI_COMM_WORLD, &rank);) "
           "(2 3,   MPI_Comm_size(MPI_COMM_WORLD, &size);) (5 1,   MPI_Bcast(&n, 1, MPI_INT, 0, MPI_COMM_WORLD);) "
           "(8 1,   MPI_Send(&x, 1, MPI_INT, 1, 0, MPI_COMM_WORLD);) (10 1,   MPI_Barrier(MPI_COMM_WORLD);) "
           "(12 1,   MPI_Finalize();)")
# Init right; Comm_size where Comm_rank was (and Comm_size missing at 2.3); Bcast two lines late; Send a line late
# with its destination wrong (5 of 6 arguments); Barrier and Finalize right.
PRED_A = ("(2 1, MPI_Init(&argc, &argv);) (2 2, MPI_Comm_size(MPI_COMM_WORLD, &size);) "
          "(7 1, MPI_Bcast(&n, 1, MPI_INT, 0, MPI_COMM_WORLD);) (9 1, MPI_Send(&x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD);) "
          "(10 1, MPI_Barrier(MPI_COMM_WORLD);) (12 1, MPI_Finalize();)")
TRUTH_B, PRED_B = "(3 1,   MPI_Finalize();)", ""


def test_label_strings_are_read_as_mpirigen_reads_them():
    assert location("11 2") == 11.2 and location("11 10") == location("11 1") == 11.1  # "L.k" as a float
    entries = parse_labels(TRUTH_A)
    assert list(entries) == [2.1, 2.2, 2.3, 5.1, 8.1, 10.1, 12.1]
    assert entries[2.1].name == "MPI_Init" and entries[2.1].arguments == ("&argc", " &argv")  # spaces kept
    assert entries[12.1].arguments == ("",)  # no arguments: one empty one
    # a later entry at the same place replaces an earlier one; k = 10 is the place of k = 1
    assert [e.name for e in parse_labels("(4 1, MPI_Send(a);) (4 10, MPI_Recv(b);)").values()] == ["MPI_Recv"]
    # an entry is "(" up to the next ";": one that does not start with its MPI call does not count
    assert parse_labels("(4 1,     send_rng (X); fflush(stdout); MPI_Barrier(MPI_COMM_WORLD);)") == {}
    assert parse_labels("(4 1, MPI_Bcast(f(a, b), 1);)")[4.1].arguments == ("f(a", " b)", " 1")  # commas split
    # MonoCoder's end-of-text token in a prediction reads as "("
    assert list(parse_labels("<|endoftext|>3 1,   MPI_Init(0, 0);) (5 1, MPI_Finalize();)")) == [3.1, 5.1]


def test_tolerance_covers_lines_and_orders_as_numpy_steps_them():
    assert covered(2.1, 0) == {2.1}
    assert covered(2.1, 1) == {1.1, 2.1, 3.1, 2.0, 2.2, 2.3}  # 2.3: arange's last step overshoots, kept as MPIrigen has it
    assert {0.1, 4.1, 1.9, 2.0, 2.4} <= covered(2.1, 2)  # k - 2 wraps into line 1's k = 9


@pytest.mark.parametrize(("tolerance", "common_core", "expected"), [
    # V=0: Init, Barrier, Finalize exact; Comm_rank's place holds Comm_size: located, wrong name
    (0, False, (4 / 7, 3 / 4, 1.0)),
    (0, True, (3 / 7, 2 / 3, 1.0)),  # Barrier is not in the common core; location still over all 7
    # V=1: Comm_size at 2.2 covers 2.3; Send at 9.1 covers 8.1 (5 of 6 arguments); Bcast at 7.1 is two lines off
    (1, False, (6 / 7, 5 / 6, (1 + 1 + 5 / 6 + 1 + 1) / 5)),
    (1, True, (5 / 7, 4 / 5, (1 + 1 + 5 / 6 + 1) / 4)),
    (2, False, (7 / 7, 6 / 7, (1 + 1 + 1 + 5 / 6 + 1 + 1) / 6)),  # V=2: Bcast found too
    (2, True, (6 / 7, 5 / 6, (1 + 1 + 1 + 5 / 6 + 1) / 5)),
])
def test_one_program_worked_by_hand(tolerance, common_core, expected):
    s = score_program(parse_labels(TRUTH_A), parse_labels(PRED_A), tolerance, common_core)
    assert (s.location, s.function, s.arguments) == pytest.approx(expected)


def test_means_over_programs_per_limit_of_truth_calls():
    table = score([(TRUTH_A, PRED_A), (TRUTH_B, PRED_B), ("no entries here", PRED_A)], tolerance=0)
    assert [r["limit"] for r in table.rows] == [1, 2, 3, 4, 5, 6, 7]
    # programs with at most 1..6 truth calls: only B, nothing predicted: located 0, no function or argument score
    assert table.rows[0] == {"limit": 1, "programs": 1, "locations": 0.0, "functions": None, "arguments": None}
    assert table.rows[5]["programs"] == 1
    overall = table.overall  # both (the one without a truth entry is left out)
    assert overall["programs"] == 2
    assert overall["locations"] == pytest.approx((4 / 7 + 0) / 2)
    assert overall["functions"] == pytest.approx(3 / 4) and overall["arguments"] == pytest.approx(1.0)
    assert set(all_scores([(TRUTH_A, PRED_A)])) == {"var0", "var1", "var2", "var0_mcc", "var1_mcc", "var2_mcc"}


def test_cli_eval_mpirigen(tmp_path, capsys):
    from proofsmith.cli import main

    path = tmp_path / "predictions.jsonl"
    path.write_text(json.dumps({"program": "a", "mpi_labels": TRUTH_A, "prediction": PRED_A}) + "\n"
                    + json.dumps({"label": TRUTH_B, "pred": PRED_B}) + "\n")  # MPIrigen's own field names too
    assert main(["eval-mpirigen", str(path), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["var1"]["overall"]["locations"] == pytest.approx((6 / 7 + 0) / 2)
    assert figures["var2_mcc"]["overall"]["functions"] == pytest.approx(5 / 6)
    assert main(["eval-mpirigen", str(path)]) == 0
    assert "| MCC | 2 | 2 |" in capsys.readouterr().out
    path.write_text(json.dumps({"program": "a", "mpi_labels": TRUTH_A}) + "\n")
    assert main(["eval-mpirigen", str(path)]) == 2
    assert "prediction must be a label string" in capsys.readouterr().err

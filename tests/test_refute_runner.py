"""The REFUTE runner with real g++ and python in the real sandbox.

Each problem below is written here with a known wrong solution (wrong greedy,
off-by-one, overflow, too slow) and a known counterexample.
"""

from __future__ import annotations

import pytest

from proofsmith.checkers.compile_cache import CompileError, CppCompileCache
from proofsmith.checkers.refute.runner import (
    RefuteProblem,
    RefuteRunner,
    RefuteSettings,
    outputs_match,
    parse_lang,
)
from proofsmith.checkers.sandbox import get_sandbox
from proofsmith.core import ProofsmithError

# Minimum coins for amount x; the wrong solution is the largest-coin-first greedy.
COINS = {
    "problem_id": "coins",
    "statement": "Fewest coins summing to x, or -1.",
    "input": "n x, then n distinct coin values",
    "output": "the fewest coins, or -1",
    "time_limit": 1000,
    "memory_limit": 256,
    "validator": (
        "import sys\n"
        "t = sys.stdin.read().split()\n"
        "n, x = int(t[0]), int(t[1]); c = list(map(int, t[2:]))\n"
        "assert 1 <= n <= 10 and 1 <= x <= 1000 and len(c) == n and all(1 <= v <= 1000 for v in c)\n"
    ),
    "wrong_code_lang": "GNU C++20 (64)",
    "wrong_code": (
        "#include <cstdio>\n#include <algorithm>\n"
        "int main(){int n,x,c[16];scanf(\"%d %d\",&n,&x);for(int i=0;i<n;i++)scanf(\"%d\",&c[i]);"
        "std::sort(c,c+n);int k=0;for(int i=n-1;i>=0;i--){k+=x/c[i];x%=c[i];}printf(\"%d\\n\",x?-1:k);}\n"
    ),
    "correct_python": (
        "n, x, *c = map(int, open(0).read().split())\n"
        "INF = 10**9; best = [0] + [INF] * x\n"
        "for s in range(1, x + 1):\n"
        "    best[s] = min([best[s - v] + 1 for v in c if v <= s] + [INF])\n"
        "print(best[x] if best[x] < INF else -1)\n"
    ),
}

# Multiples of k in [1, n]; the wrong one counts [1, n).
MULTIPLES = {
    "problem_id": "multiples",
    "statement": "How many of 1..n are divisible by k?",
    "time_limit": 1000,
    "memory_limit": 256,
    "validator": "n, k = map(int, input().split())\nassert 1 <= k <= n <= 10**9\n",
    "wrong_code_lang": "Python 3",
    "wrong_code": "n, k = map(int, input().split())\nprint((n - 1) // k)\n",
    "correct_cpp": "#include <cstdio>\nint main(){long long n,k;scanf(\"%lld %lld\",&n,&k);printf(\"%lld\\n\",n/k);}\n",
}

# a*b for a, b up to 1e6; the wrong one multiplies in 32-bit int.
PRODUCT = {
    "problem_id": "product",
    "statement": "Print a*b.",
    "time_limit": 1000,
    "memory_limit": 256,
    "validator": "a, b = map(int, input().split())\nassert 1 <= a <= 10**6 and 1 <= b <= 10**6\n",
    "wrong_code_lang": "C++17",
    "wrong_code": "#include <cstdio>\nint main(){int a,b;scanf(\"%d %d\",&a,&b);int p=a*b;printf(\"%d\\n\",p);}\n",
    "correct_python": "a, b = map(int, input().split())\nprint(a * b)\n",
}

# Pairs i<j with a_i + a_j == s; the wrong one is quadratic.
PAIRS = {
    "problem_id": "pairs",
    "statement": "Count pairs i<j with a_i + a_j = s.",
    "time_limit": 500,
    "memory_limit": 256,
    "validator": (
        "import sys\nt = list(map(int, sys.stdin.read().split()))\n"
        "n, s = t[0], t[1]\nassert 1 <= n <= 200000 and len(t) == n + 2\n"
    ),
    "wrong_code_lang": "C++",
    "wrong_code": (
        "#include <cstdio>\nstatic int a[200005];\n"
        "int main(){int n,s;scanf(\"%d %d\",&n,&s);for(int i=0;i<n;i++)scanf(\"%d\",&a[i]);long long c=0;"
        "for(int i=0;i<n;i++)for(int j=i+1;j<n;j++)if(a[i]+a[j]==s)c++;printf(\"%lld\\n\",c);}\n"
    ),
    "correct_python": (
        "import sys\nfrom collections import Counter\n"
        "n, s, *a = map(int, sys.stdin.read().split())\n"
        "seen = Counter(); total = 0\n"
        "for v in a:\n    total += seen[s - v]\n    seen[v] += 1\n"
        "print(total)\n"
    ),
}
PAIRS_GENERATOR = {"lang": "python", "code": "n = 200000\nprint(n, 7)\nprint(' '.join(str(i % 1000) for i in range(n)))\n"}

# The "correct" solution divides by n-1: it fails on n == 1, so such an attempt fails.
BROKEN_CORRECT = {
    "problem_id": "broken",
    "statement": "Print n.",
    "time_limit": 1000,
    "memory_limit": 256,
    "validator": "n = int(input())\nassert 1 <= n <= 100\n",
    "wrong_code_lang": "Python 3",
    "wrong_code": "print(int(input()) + 1)\n",
    "correct_python": "n = int(input())\nprint(n * (n - 1) // (n - 1))\n",
}


@pytest.fixture(scope="module")
def runner(tmp_path_factory) -> RefuteRunner:
    sandbox = get_sandbox()
    cache = CppCompileCache(sandbox, directory=tmp_path_factory.mktemp("cpp-cache"))
    return RefuteRunner(sandbox, RefuteSettings(runs=2), compiler=cache)


def judge(runner: RefuteRunner, record: dict, counterexample: dict):
    return runner.judge(RefuteProblem.from_record(record), counterexample)


def test_wrong_greedy_counterexample_is_valid(runner):
    result = judge(runner, COINS, {"input": "3 6\n1 3 4\n"})
    assert result.status == "valid" and result.reason == "wrong_answer", result.message
    assert result.expected.split() == ["2"] and result.got.split() == ["3"]
    assert len(result.runs) == 2 and all(r["outcome"] == "wrong_answer" for r in result.runs)
    assert result.to_verdict().passed


def test_input_on_which_both_agree_is_not_a_counterexample(runner):
    result = judge(runner, COINS, {"input": "3 8\n1 2 4\n"})
    assert result.status == "agree" and not result.valid
    assert len(result.runs) == 1  # one agreeing run settles it
    assert not result.to_verdict().passed


def test_off_by_one_python_wrong_against_cpp_correct(runner):
    assert judge(runner, MULTIPLES, {"input": "6 3\n"}).status == "valid"
    assert judge(runner, MULTIPLES, {"input": "7 3\n"}).status == "agree"
    crashing = {**MULTIPLES, "wrong_code": "n, k = map(int, input().split())\nprint(n // k if n % k else n // (n - k))\n"}
    result = judge(runner, crashing, {"input": "6 6\n"})  # ZeroDivisionError
    assert result.status == "valid" and result.reason == "crashed" and "ZeroDivisionError" in result.runs[0]["detail"]


def test_input_the_validator_rejects_is_invalid(runner):
    result = judge(runner, MULTIPLES, {"input": "3 5\n"})  # k > n: outside the constraints
    assert result.status == "invalid_input" and "validator" in result.message
    assert judge(runner, MULTIPLES, {"input": "   \n"}).status == "invalid_input"


def test_overflow_is_caught(runner):
    result = judge(runner, PRODUCT, {"input": "1000000 1000000\n"})
    assert result.status == "valid" and result.reason == "wrong_answer"
    assert result.expected.strip() == str(10**12)
    assert judge(runner, PRODUCT, {"input": "1000 1000\n"}).status == "agree"


def test_too_slow_solution_is_caught_by_the_time_limit_from_a_generator(runner):
    result = judge(runner, PAIRS, {"generator": PAIRS_GENERATOR})
    assert result.status == "valid" and result.reason == "time_limit", result.message
    assert all(r["outcome"] == "time_limit" for r in result.runs)
    # the correct solution ran within TL x slack on the same input
    assert len(result.input.split()) == 200002 and result.correct_run["cpu_s"] < 1.0


def test_correct_solution_failing_makes_the_attempt_fail(runner):
    result = judge(runner, BROKEN_CORRECT, {"input": "1\n"})
    assert result.status == "correct_failed" and result.reason == "crashed"
    assert judge(runner, BROKEN_CORRECT, {"input": "5\n"}).status == "valid"


def test_generators_in_cpp_and_failing_generators(runner):
    cpp_gen = {"lang": "cpp", "code": "#include <cstdio>\nint main(){puts(\"3 6\");puts(\"1 3 4\");}\n"}
    assert judge(runner, COINS, {"generator": cpp_gen}).status == "valid"
    crash = {"lang": "python", "code": "raise SystemExit(3)\n"}
    assert judge(runner, COINS, {"generator": crash}).status == "generator_failed"
    broken = {"lang": "cpp", "code": "int main( {"}
    assert judge(runner, COINS, {"generator": broken}).status == "generator_failed"
    seeded = {"lang": "python", "code": "import sys\nprint(6, int(sys.argv[1]))\n"}  # the seed is argv[1]
    assert judge(runner, MULTIPLES, {"generator": seeded, "seed": 3}).status == "valid"


def test_compile_cache_compiles_each_source_once(tmp_path):
    cache = CppCompileCache(get_sandbox(), directory=tmp_path)
    source = "#include <cstdio>\nint main(){puts(\"hi\");}\n"
    first = cache.binary(source)
    assert first.startswith(b"\x7fELF") and (cache.hits, cache.misses) == (0, 1)
    assert cache.binary(source) == first and (cache.hits, cache.misses) == (1, 1)
    again = CppCompileCache(get_sandbox(), directory=tmp_path)  # a new process finds it on disk
    assert again.binary(source) == first and again.hits == 1
    with pytest.raises(CompileError):
        cache.binary("int main( {")
    with pytest.raises(CompileError):  # the error is cached too
        cache.binary("int main( {")
    assert cache.misses == 2


def test_outputs_match_rules():
    assert outputs_match("1 2\n3\n", " 1\n2 3  ")[0]
    assert outputs_match("YES\nno", "yes\nNO")[0]
    assert not outputs_match("abc", "ABC")[0]  # case matters outside YES/NO answers
    assert not outputs_match("1 2", "1 2 3")[0]
    assert not outputs_match("0.3333333", "0.3334")[0]
    assert outputs_match("0.3333333", "0.3333334", float_tolerance=1e-6)[0]
    assert not outputs_match("0.3333333", "0.3334", float_tolerance=1e-6)[0]
    assert outputs_match("", "\n")[0]


def test_problem_records_and_languages():
    assert parse_lang("GNU C++20 (64)") == "cpp" and parse_lang("PyPy 3-64") == "python"
    with pytest.raises(ProofsmithError):
        parse_lang("Python 2")
    with pytest.raises(ProofsmithError):
        parse_lang("Kotlin 1.9")
    with pytest.raises(ProofsmithError, match="missing"):
        RefuteProblem.from_record({"problem_id": "x", "statement": ""})
    problem = RefuteProblem.from_record(COINS)
    assert problem.correct[0].lang == "python" and problem.wrong.lang == "cpp"
    assert problem.to_task().kind == "refute"


def test_memory_hungry_solution_is_caught_by_the_memory_limit(runner):
    hungry = {**BROKEN_CORRECT, "problem_id": "memory", "correct_python": "print(int(input()))\n",
              "wrong_code_lang": "C++", "wrong_code": (
                  "#include <cstdio>\n#include <vector>\nint main(){int n;scanf(\"%d\",&n);"
                  "std::vector<long long> t((size_t)n * n * 4000000, 1);printf(\"%d\\n\",(int)(t[n] * n));}\n")}
    result = judge(runner, hungry, {"input": "10\n"})  # 3.2 GB wanted, 320 MB allowed
    assert result.status == "valid" and result.reason == "memory_limit", result.message
    assert judge(runner, hungry, {"input": "1\n"}).status == "agree"  # 32 MB fits: the same answer

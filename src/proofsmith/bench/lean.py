"""Reading LeanDojo Benchmark 4: our streamed reader against plain `json.load`, side by side.

The recorded slice of Benchmark 4 (tests/recorded/lean in a checkout, or `$PROOFSMITH_LEAN_BENCHMARK`)
is repeated into one split file of at least 200 MB under the cache (`quick`: 20 MB). Each
reader runs in a fresh Python of its own (so peak memory is its own `ru_maxrss`), twice,
alternating, the faster run kept:

- `json_load`: `json.load(f)`, then a walk over the records (counting tactics);
- `ours`: `datasets.leandojo.read_split`, the same walk over the records it yields (each
  with its provenance).

`time_ratio_vs_json_load` = ours / json_load seconds (goal <= 2.0);
`memory_ratio_vs_json_load` = ours / json_load peak RSS (goal <= 0.25; both include the
interpreter's own few MB, which `baseline_rss_mb` shows).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

RECORDED = Path(__file__).resolve().parents[3] / "tests" / "recorded" / "lean" / "leandojo_benchmark_4"  # in a checkout

_CHILD = r"""
import json, resource, sys, time
kind, path = sys.argv[1], sys.argv[2]
from proofsmith.datasets import leandojo
t0 = time.perf_counter()
records = tactics = 0
if kind == "json_load":
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    for r in data:
        records += 1
        tactics += len(r["traced_tactics"])
elif kind == "ours":
    for r in leandojo.read_split(path, "random/train"):
        records += 1
        tactics += len(r["traced_tactics"])
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "records": records, "tactics": tactics}))
"""


def source_dir() -> Path:
    from ..core import ProofsmithError

    found = Path(os.environ.get("PROOFSMITH_LEAN_BENCHMARK") or RECORDED)
    if not found.is_dir():
        raise ProofsmithError(f"no Benchmark 4 records to repeat at {found}: set PROOFSMITH_LEAN_BENCHMARK to a "
                              "LeanDojo Benchmark 4 directory")
    return found


def big_file(target_mb: int) -> Path:
    """The recorded records repeated into one Benchmark 4 split file of at least `target_mb` MB."""
    from ..datasets import leandojo
    from ..paths import cache_dir

    path = cache_dir("bench", "lean") / f"benchmark4-{target_mb}mb.json"
    if path.is_file() and path.stat().st_size >= target_mb << 20:
        return path
    texts = [json.dumps({k: v for k, v in r.items() if k != "provenance"})
             for parts in leandojo.read_benchmark(source_dir()).values() for records in parts.values()
             for r in records]
    tmp = path.with_name(path.name + ".tmp")
    size, first = 0, True
    with tmp.open("w", encoding="utf-8") as f:
        f.write("[")
        while size < target_mb << 20:
            for text in texts:
                f.write(text if first else ", " + text)
                size += len(text) + 2
                first = False
        f.write("]")
    tmp.replace(path)
    return path


def _measure(kind: str, path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run([sys.executable, "-c", _CHILD, kind, str(path)], capture_output=True, text=True,
                          env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> dict:
    path = big_file(20 if quick else 200)
    size_mb = path.stat().st_size / (1 << 20)
    print(f"{path.name}: {size_mb:.0f} MB")
    base = _measure("none", path)
    runs: dict[str, list[dict]] = {"json_load": [], "ours": []}
    for _ in range(2):
        for kind, done in runs.items():
            done.append(_measure(kind, path))
            r = done[-1]
            print(f"  {kind:9s} {r['seconds']:7.2f} s  peak {r['rss_kb'] / 1024:8.1f} MB  {r['records']} records")
    best = {k: min(v, key=lambda r: r["seconds"]) for k, v in runs.items()}
    peak = {k: max(r["rss_kb"] for r in v) for k, v in runs.items()}
    if best["ours"]["records"] != best["json_load"]["records"] or best["ours"]["tactics"] != best["json_load"]["tactics"]:
        raise RuntimeError(f"the readers disagree: {best}")
    figures = {
        "file_mb": round(size_mb, 1), "records": best["ours"]["records"], "tactics": best["ours"]["tactics"],
        "json_load_s": round(best["json_load"]["seconds"], 3), "ours_s": round(best["ours"]["seconds"], 3),
        "json_load_peak_mb": round(peak["json_load"] / 1024, 1), "ours_peak_mb": round(peak["ours"] / 1024, 1),
        "baseline_rss_mb": round(base["rss_kb"] / 1024, 1),
        "time_ratio_vs_json_load": round(best["ours"]["seconds"] / best["json_load"]["seconds"], 3),
        "memory_ratio_vs_json_load": round(peak["ours"] / peak["json_load"], 4),
    }
    print(f"time_ratio_vs_json_load {figures['time_ratio_vs_json_load']:.2f} (goal <= 2.0)   "
          f"memory_ratio_vs_json_load {figures['memory_ratio_vs_json_load']:.3f} (goal <= 0.25)")
    return figures

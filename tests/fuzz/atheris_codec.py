"""Coverage-guided fuzzing of the codec with atheris (libFuzzer), for long runs by hand.

    pip install atheris
    python3 tests/fuzz/atheris_codec.py -max_total_time=600 -max_len=4200 tests/fuzz/corpus-work

Not collected by pytest (no ``test_`` prefix). The oracle is the one of
test_codec_fuzz.py: decode succeeds or raises MalformedPacket, and an accepted packet can
be read, logged, answered and re-encoded. Any other exception is a crash: libFuzzer writes
the input to ``crash-*``; add it as hex to tests/fuzz/corpus/ with a comment and fix it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

with atheris.instrument_imports(include=["radiusd"]):
    import radiusd.codec.packet  # noqa: F401  (instrumented: coverage guides the fuzzer)

from tests.fuzz.test_codec_fuzz import SEEDS, _check


def one_input(data: bytes) -> None:
    _check(data)


def main() -> None:
    args = list(sys.argv)
    dirs = [a for a in args[1:] if not a.startswith("-")]
    if dirs:  # start from the valid seeds and the regression corpus
        work = Path(dirs[0])
        work.mkdir(parents=True, exist_ok=True)
        for i, seed in enumerate(SEEDS):
            (work / f"seed-{i}").write_bytes(seed)
    atheris.Setup(args, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

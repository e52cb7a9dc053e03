"""The compiled walk built with AddressSanitizer and UBSan, run over fuzzed real blocks against the pure walk.

    .venv/bin/python bench/sanitized_walk.py --build-only --out /tmp/asan
    LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 PYTHONMALLOC=malloc \\
        .venv/bin/python bench/sanitized_walk.py --out /tmp/asan --cases 2000

Each block is handed to the compiled walk in a buffer of exactly its size (a bytes object
would hide a one-byte over-read in its trailing NUL), so any read past the end is reported.
tests/test_scan_core.py runs it once; it prints "N cases agree" when all went well.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import random
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "src" / "boveda" / "chain" / "_walk.c"
MAINNET_DIR = REPO.parent / "shared" / "data" / "mainnet"
FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer", "-g", "-O1"]


def build(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    target = out / ("_walk" + sysconfig.get_config_var("EXT_SUFFIX"))
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    include = sysconfig.get_paths()["include"]
    subprocess.run([compiler, *FLAGS, "-shared", "-fPIC", f"-I{include}", str(SOURCE), "-o", str(target)], check=True)
    return target


def load(target: Path):
    spec = importlib.util.spec_from_file_location("boveda.chain._walk", target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def exact_buffer(data: bytes):
    """A buffer of exactly len(data) bytes from malloc (PYTHONMALLOC=malloc), so ASan sees its end."""
    return (ctypes.c_char * len(data)).from_buffer_copy(data) if data else b""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder for the sanitized build")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--cases", type=int, default=1000)
    args = parser.parse_args()
    if args.build_only:
        build(args.out)
        return
    sys.path.insert(0, str(REPO / "src"))
    sys.path.insert(0, str(REPO / "tests"))
    from test_scan_core import mutate, spends_of  # the same mutations as the hypothesis test

    from boveda.bitcoin.block import Block
    from boveda.chain import scanner as scanner_module
    from boveda.chain.scanner import Scanner, Walk
    from boveda.errors import CodecError

    scanner_module._compiled = load(next(args.out.glob("_walk*")))
    blocks = sorted((int(p.name.split("-")[0]), p.read_bytes()) for p in MAINNET_DIR.glob("*.blk"))
    blocks = [(h, d) for h, d in blocks if len(d) < 300_000]
    rng = random.Random(11)

    def outcome(walk, data, watch, seed, with_tx_facts):
        scanner = Scanner(watch, seed, with_tx_facts=with_tx_facts, walk=walk)
        before = scanner.unspent
        try:
            return scanner.scan_raw_block(9, data if walk is Walk.PURE else exact_buffer(data)), scanner.unspent
        except CodecError as exc:
            assert set(scanner.unspent) == set(before)
            return str(exc), scanner.unspent

    for case in range(args.cases):
        _, data = rng.choice(blocks)
        block = Block.parse(data)
        watch = {out.script_pubkey for tx in block.transactions for out in tx.outputs[case % 3 :: 3]}
        seed = spends_of(block, 1 + case % 4)
        damaged = data
        for _ in range(1 + case % 4):
            damaged = mutate(damaged, rng) if damaged else damaged
        with_tx_facts = bool(case % 2)
        expected = outcome(Walk.PURE, damaged, watch, seed, with_tx_facts)
        got = outcome(Walk.COMPILED, damaged, watch, seed, with_tx_facts)
        assert got == expected, f"case {case}: the walks disagree"
    print(f"{args.cases} cases agree (sanitized compiled walk vs pure walk)")


if __name__ == "__main__":
    main()

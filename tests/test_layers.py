"""The layers of docs/design.md hold: no module imports from a layer above its own, and no two
packages import each other. Every import counts, including those inside functions."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "boveda"

# What each part of the package may import (besides itself and the standard library / third parties).
BASE = {"errors", "money", "outfiles", "text", "strict_json"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "money": {"errors", "text"},
    "outfiles": {"errors", "text"},
    "text": set(),
    "strict_json": {"errors"},
    "bitcoin": BASE,
    "chain": BASE | {"bitcoin"},
    "chain.regtest": BASE | {"bitcoin", "chain", "keys"},
    "keys": BASE | {"bitcoin"},
    "book": BASE,
    "wallets": BASE | {"bitcoin", "chain", "book"},
    "reconcile": BASE | {"book"},
    "report": BASE | {"book", "reconcile", "labels"},
    "proofs": BASE | {"bitcoin", "chain", "book", "wallets", "keys"},
    "spend": BASE | {"bitcoin", "chain", "book", "wallets", "keys", "reconcile", "proofs", "labels"},
    "labels": BASE | {"bitcoin", "book"},
    "scenario": BASE | {"bitcoin", "chain", "chain.regtest", "book", "wallets", "keys"},
    "service": BASE | {"labels", "bitcoin", "chain", "book", "wallets", "reconcile", "report", "proofs", "spend", "keys"},
    "follower": BASE | {"labels", "bitcoin", "chain", "book", "wallets", "reconcile", "report", "proofs", "service"},
    "demo": BASE | {"labels", "bitcoin", "chain", "book", "wallets", "reconcile", "report", "proofs", "service", "scenario",
                    "keys"},
    "web": BASE | {"labels", "bitcoin", "chain", "book", "wallets", "reconcile", "report", "proofs", "service", "keys"},
    "cli": BASE | {"labels", "bitcoin", "chain", "book", "wallets", "reconcile", "report", "proofs", "service", "demo",
                   "follower", "spend", "web", "keys"},
}


def part_of(module: str) -> str:
    """`boveda.chain.regtest.builder` -> `chain.regtest`; `boveda.wallets.sync` -> `wallets`."""
    parts = module.split(".")[1:]
    if parts[:2] == ["chain", "regtest"]:
        return "chain.regtest"
    return parts[0] if parts else ""


def module_name(path: Path) -> str:
    relative = path.relative_to(SRC.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("boveda"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.startswith("boveda"):
            found.add(node.module)
            # `from boveda import x` imports the submodule x
            if node.module == "boveda":
                found.update(f"boveda.{alias.name}" for alias in node.names if not alias.name.startswith("__"))
    return found


def graph() -> dict[str, set[str]]:
    return {module_name(path): imports_of(path) for path in SRC.rglob("*.py")}


def test_every_part_of_the_package_has_a_layer():
    parts = {part_of(module) for module in graph()} - {""}
    assert parts <= set(ALLOWED), f"parts with no layer in this test: {sorted(parts - set(ALLOWED))}"


def test_no_module_imports_from_a_layer_above_its_own():
    wrong = []
    for module, imported in graph().items():
        part = part_of(module)
        for target in imported:
            target_part = part_of(target)
            if target_part in ("", part) or target == "boveda":
                continue
            if target_part not in ALLOWED.get(part, set()):
                wrong.append(f"{module} imports {target}")
    assert not wrong, "imports against the layers:\n" + "\n".join(sorted(wrong))


def test_no_two_packages_import_each_other():
    edges: dict[str, set[str]] = defaultdict(set)
    for module, imported in graph().items():
        for target in imported:
            if part_of(target) not in ("", part_of(module)):
                edges[part_of(module)].add(part_of(target))
    cycles = sorted(f"{a} <-> {b}" for a in edges for b in edges[a] if a < b and a in edges.get(b, set()))
    assert not cycles, f"packages importing each other: {cycles}"


def test_the_layer_check_itself_catches_an_upward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from boveda.service.reserve import reserve_view\n")
    assert "boveda.service.reserve" in imports_of(bad)
    assert "service" not in ALLOWED["reconcile"]


def test_no_module_outside_tests_is_over_450_lines():
    long = [f"{path.relative_to(SRC.parent)}: {n} lines" for path in SRC.rglob("*.py")
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > 450]
    assert not long, "modules over 450 lines:\n" + "\n".join(long)

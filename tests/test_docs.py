"""The documentation is a contract: the Quick start, CI, and every command's help and README entry."""

import re
from pathlib import Path

import click

from boveda.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_quick_start_has_exactly_two_commands_demo_then_tests():
    commands = quick_start_commands()
    assert len(commands) == 2
    demo, tests = commands
    assert "pip install" in demo and demo.endswith("boveda demo")
    assert "pip install" in tests and "pytest" in tests


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert quick_start_commands()[1] in ci.splitlines()


def all_commands(group: click.Group = cli, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        found.append((path, command))
        if isinstance(command, click.Group):
            found += all_commands(command, f"{path} ")
    return found


def test_every_command_has_help_and_leaf_commands_show_an_example():
    for path, command in all_commands():
        assert command.help and command.help.strip(), f"boveda {path} has no help text"
        if not isinstance(command, click.Group):
            assert "Example" in command.help, f"boveda {path} has no example in its help"


def test_every_command_is_in_the_readme():
    for path, _ in all_commands():
        assert f"boveda {path}" in README, f"boveda {path} is not documented in README.md"


def test_every_document_the_code_cites_is_in_the_repository():
    cited = set()
    for path in (ROOT / "src").rglob("*.py"):
        cited |= {(path.name, name) for name in re.findall(r"\b(docs/[\w./-]+\.(?:md|json|service))", path.read_text())}
        for name in re.findall(r"\b([A-Z][A-Z-]+\.md)\b", path.read_text()):
            assert name in ("README.md",), f"{path.name} cites {name}, which is not a file of this repository"
    missing = sorted(f"{source}: {name}" for source, name in cited if not (ROOT / name).is_file())
    assert cited and not missing, f"cited but not in the repository: {missing}"

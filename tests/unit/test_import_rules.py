"""The import rules of the design, checked on every module's source (imports inside
functions included).

Import direction: `cli -> node/runtime -> web | tracker servers -> domain services -> db`,
and `tracker.logic -> peerstore -> protocol -> bittorrent`. The site reaches the tracker
only through its port, `swarmdex.tracker.control`; only the composition roots name a
concrete tracker or peer store (the peer store factory too: it turns a URL into a store).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import swarmdex

SRC = Path(swarmdex.__file__).parent
COMPOSITION_ROOTS = ("swarmdex.cli", "swarmdex.node", "swarmdex.runtime", "swarmdex.__main__")
DOMAIN = tuple(f"swarmdex.{name}" for name in (
    "accounts", "audit", "comments", "donations", "moderation", "news", "privacy", "profiles",
    "search", "sitecfg", "sitemode", "takedowns", "torrents",
))
THE_PORT = "swarmdex.tracker.control"
CONTRACT = "swarmdex.peerstore.base"


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every import in the file; `from a import b` yields `a.b` too, since
    b may be a module."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def within(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


MODULES = sorted((module_name(p), p) for p in SRC.rglob("*.py"))


def broken(rule: str, test: Callable[[str, str], bool],
           modules: list[tuple[str, Path]] = MODULES) -> list[str]:
    """Every import in `modules` for which `test(module, imported)` holds, as a message."""
    return [f"{name}:{line}: imports {target} ({rule})"
            for name, path in modules for line, target in imports(path) if test(name, target)]


def test_every_module_is_seen() -> None:
    names = {name for name, _ in MODULES}
    assert {"swarmdex.web.app", "swarmdex.tracker.logic", "swarmdex.node"} <= names


def test_vocabulary_and_wire_formats_import_only_the_standard_library() -> None:
    def rule(name: str, target: str) -> bool:
        if not within(name, "swarmdex.bittorrent", "swarmdex.protocol"):
            return False
        if within(target, "swarmdex.bittorrent", "swarmdex.protocol"):
            return False
        return target.split(".")[0] not in sys.stdlib_module_names and target != "__future__"

    assert broken("bittorrent/ and protocol/ use the standard library only", rule) == []


def test_the_peer_store_knows_nothing_of_the_tracker_or_the_site() -> None:
    def rule(name: str, target: str) -> bool:
        return within(name, "swarmdex.peerstore") and within(
            target, "swarmdex.tracker", "swarmdex.web", "swarmdex.db", *DOMAIN, *COMPOSITION_ROOTS)

    assert broken("peerstore -> protocol only", rule) == []


def test_the_tracker_never_imports_the_site() -> None:
    def rule(name: str, target: str) -> bool:
        return within(name, "swarmdex.tracker") and within(
            target, "swarmdex.web", *DOMAIN, *COMPOSITION_ROOTS)

    assert broken("the tracker never imports the site", rule) == []


def test_domain_services_never_import_the_site_and_reach_the_tracker_by_its_port() -> None:
    def rule(name: str, target: str) -> bool:
        if not within(name, *DOMAIN, "swarmdex.db"):
            return False
        if within(target, "swarmdex.web", *COMPOSITION_ROOTS):
            return True
        if within(target, "swarmdex.peerstore"):
            return True
        return within(target, "swarmdex.tracker") and not within(target, THE_PORT)

    assert broken("domain services -> db, and the tracker port only", rule) == []


def test_the_site_reaches_the_tracker_only_through_its_port() -> None:
    def rule(name: str, target: str) -> bool:
        if not within(name, "swarmdex.web"):
            return False
        if within(target, *COMPOSITION_ROOTS):
            return True
        if within(target, "swarmdex.peerstore"):
            return not within(target, CONTRACT)
        return within(target, "swarmdex.tracker") and not within(target, THE_PORT)

    assert broken("web/ reads and tells the tracker through swarmdex.tracker.control", rule) == []


def test_only_composition_roots_name_a_concrete_store_or_port() -> None:
    concrete = ("swarmdex.peerstore.memory", "swarmdex.peerstore.redis", "swarmdex.tracker.inprocess")
    # The peer store factory turns a URL into a store: the one other place stores are named.
    factory = "swarmdex.peerstore.factory"

    def rule(name: str, target: str) -> bool:
        return within(target, *concrete) and not within(name, *COMPOSITION_ROOTS, *concrete, factory)

    assert broken("only the composition roots build concrete parts", rule) == []


def test_a_broken_rule_is_reported(tmp_path: Path) -> None:
    # The checker itself: a module that breaks a rule is named, with the line.
    probe = tmp_path / "probe.py"
    probe.write_text('"""A page."""\n\ndef f():\n    from swarmdex.tracker.logic import Tracker\n')

    def rule(name: str, target: str) -> bool:
        return within(name, "swarmdex.web") and within(target, "swarmdex.tracker.logic")

    assert broken("probe", rule, [("swarmdex.web.probe", probe)]) == [
        "swarmdex.web.probe:4: imports swarmdex.tracker.logic (probe)",
        "swarmdex.web.probe:4: imports swarmdex.tracker.logic.Tracker (probe)",
    ]

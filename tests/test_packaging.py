"""What docmill needs installed is declared in pyproject.toml, so that any pip, in any
environment, installs a docmill that works."""
from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import sys
import tomllib

from packaging.requirements import Requirement

from conftest import ROOT

PACKAGES = ("flows", "tasks", "storage")


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", Requirement(requirement).name).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {_name(requirement) for requirement in project["dependencies"]}


def _imported_modules() -> set[str]:
    modules = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    modules.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - set(PACKAGES) - {"__future__"}


def test_every_third_party_module_the_code_imports_is_a_declared_dependency():
    owners = metadata.packages_distributions()
    undeclared = {module: owners.get(module) for module in _imported_modules()
                  if not {_name(owner) for owner in owners.get(module, [])} & _declared()}
    assert undeclared == {}


def test_extras_that_only_a_normalising_pip_finds_are_declared_directly():
    """jusText (under trafilatura) asks for lxml[html_clean]; lxml provides the extra as
    'html-clean'. pip before 23.3 (Python 3.11 ships 23.2) does not normalise extra names
    (PEP 685), finds no such extra, and installs lxml without lxml_html_clean: every HTML
    page then fails. Whatever such an extra brings must be a dependency of docmill's own."""
    declared, missing = _declared(), set()
    seen, todo = set(), sorted(declared)
    while todo:
        distribution = todo.pop()
        if distribution in seen:
            continue
        seen.add(distribution)
        for text in metadata.requires(distribution) or ():
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue  # only for an extra of this distribution, or another platform
            todo.append(_name(requirement.name))
            provided = metadata.metadata(requirement.name).get_all("Provides-Extra") or []
            for extra in requirement.extras - set(provided):
                for needed in map(Requirement, metadata.requires(requirement.name) or ()):
                    if needed.marker is not None and needed.marker.evaluate({"extra": extra}) \
                            and not needed.marker.evaluate({"extra": ""}) and _name(needed.name) not in declared:
                        missing.add(f"{needed.name} (for {requirement.name}[{extra}], asked by {distribution})")
    assert missing == set()

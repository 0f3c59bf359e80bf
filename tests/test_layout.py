"""One house: every import of every module follows the one rule of direction.

``qpt`` (the application) -> ``curate``, ``train``, ``bench`` -> ``degrade``, and ``qpt_base``
below them all. Inside the middle layer ``bench`` may read ``train`` (the backbones) and
``curate`` (the built-in photos of the synthetic benchmark). Imports inside functions and
under ``TYPE_CHECKING`` count too: a static tool sees them all.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("qpt", "curate", "train", "bench", "degrade", "qpt_base")
ALLOWED = {
    "qpt": {"curate", "train", "bench", "degrade", "qpt_base"},
    "bench": {"train", "curate", "degrade", "qpt_base"},
    "train": {"degrade", "qpt_base"},
    "curate": {"degrade", "qpt_base"},
    "degrade": {"qpt_base"},
    "qpt_base": set(),
}


def imported_packages(path: Path) -> dict[str, int]:
    """The project packages a module imports, each with the first line that does."""
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in PACKAGES:
                found.setdefault(top, node.lineno)
    return found


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_follow_the_direction(package: str) -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for path in modules(package)
        for target, line in imported_packages(path).items()
        if target != package and target not in ALLOWED[package]
    ]
    assert not wrong, "\n".join(wrong)


def test_no_string_registry_hides_imports() -> None:
    """``importlib`` may load optional third-party modules, never the project's own by name."""
    dotted = re.compile(rf"^({'|'.join(PACKAGES)})(\.\w+)+(:\w+)?$")
    hidden = [
        f"{path.relative_to(ROOT)}: {node.value}"
        for pkg in PACKAGES
        for path in modules(pkg)
        if "import_module" in (text := path.read_text())
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and dotted.match(node.value)
    ]  # fmt: skip
    assert not hidden, hidden


def test_the_walker_sees_function_level_and_type_checking_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from qpt.stage import X\n"
        "def f():\n    import train.engine\n"
    )
    assert imported_packages(module) == {"qpt": 3, "train": 5}


def test_tests_mirror_the_packages() -> None:
    """Each folder under tests/ is named for the package or subpackage it tests."""
    tests = ROOT / "tests"
    stray = [
        str(folder.relative_to(ROOT))
        for folder in sorted(tests.rglob("*"))
        if folder.is_dir()
        and folder.name != "__pycache__"
        and not (ROOT / folder.relative_to(tests)).is_dir()
    ]
    assert not stray, f"move these tests beside the package they test: {stray}"


#: a unit a reader can hold: a longer function says why at the top of its docstring
MAX_FUNCTION_LINES = 60
LONG_REASON = "long because"


def long_functions(path: Path) -> list[tuple[str, int, int]]:
    """``(name, first line, length)`` of each function (nested ones too) over
    :data:`MAX_FUNCTION_LINES` lines, decorators excluded, whose docstring's first paragraph
    does not say why it is long."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        length = node.end_lineno - node.lineno + 1
        first_paragraph = (ast.get_docstring(node) or "").split("\n\n")[0]
        if length > MAX_FUNCTION_LINES and LONG_REASON not in first_paragraph.lower():
            found.append((node.name, node.lineno, length))
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_functions_fit_on_a_screen(package: str) -> None:
    long = [
        f"{path.relative_to(ROOT)}:{line} {name} is {length} lines (split it, or start its "
        "docstring's first paragraph with why: 'Long because ...')"
        for path in modules(package)
        for name, line, length in long_functions(path)
    ]
    assert not long, "\n".join(long)


def test_the_length_check_counts_lines_and_reads_the_reason(tmp_path: Path) -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    module = tmp_path / "m.py"
    module.write_text(
        f"def short():\n{body[: -len(body.splitlines()[-1]) - 1]}"
        f"def long():\n{body}"
        f'def reasoned():\n    """Long because it is a table.\n\n    More."""\n{body}'
        f'def reason_too_late():\n    """Sums.\n\n    Long because of nothing."""\n{body}'
        f"def outer():\n    def inner():\n{body.replace('    ', '        ')}"
    )
    found = {name: length for name, _, length in long_functions(module)}
    n = MAX_FUNCTION_LINES + 1
    assert found == {"long": n, "reason_too_late": n + 3, "outer": n + 1, "inner": n}

"""What a user gets from a regular (non-editable) install and from the documented launches."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=300, env={**os.environ, **env}
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # a copy without build/ and friends: setuptools would package stale files left there
    src = out / "src"
    junk = shutil.ignore_patterns(".git", ".venv", "build", "runs", "*.egg-info", "__pycache__")
    shutil.copytree(ROOT, src, symlinks=True, ignore=junk)
    build = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(src)],
        cwd=out,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    (whl,) = out.glob("qpt-*.whl")
    return whl


def test_the_wheel_carries_the_default_pipelines(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        packaged = z.read("qpt/pipelines.toml").decode()
    assert packaged == (ROOT / "pipelines.toml").read_text()
    assert "[pipeline.default]" in packaged


def test_run_list_from_elsewhere_after_a_regular_install(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    install = _run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
         str(wheel)],
        cwd=tmp_path,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = "import qpt, sys; print(qpt.__file__); sys.argv = ['qpt', 'run', '--list']; "
    code += "from qpt.cli import main; sys.exit(main())"
    run = _run([sys.executable, "-c", code], cwd=elsewhere, PYTHONPATH=str(site))
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0].startswith(str(site))  # the installed copy ran
    assert "ablation" in run.stdout + run.stderr  # a pipeline of the packaged file


@pytest.fixture
def poisoned_cwd(tmp_path: Path) -> Path:
    """A working directory whose own train.py and bench.py would break qpt if imported."""
    for name in ("train", "bench", "curate", "degrade"):
        (tmp_path / f"{name}.py").write_text(f"raise SystemExit('user {name}.py was imported')\n")
    return tmp_path


@pytest.mark.parametrize(
    "args",
    [["--help"], ["run", "--list-stages"], ["pretrain", "--help"], ["bench", "list"]],
)
def test_python_m_qpt_ignores_the_users_modules(poisoned_cwd: Path, args: list[str]) -> None:
    run = _run([sys.executable, "-m", "qpt", *args], cwd=poisoned_cwd)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "was imported" not in run.stdout + run.stderr


def test_console_script_and_torchrun_line_ignore_the_users_modules(poisoned_cwd: Path) -> None:
    bindir = Path(sys.executable).parent
    if not (bindir / "qpt").exists():
        pytest.skip("no qpt console script beside this interpreter (not installed)")
    path = f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"
    run = _run([str(bindir / "qpt"), "run", "--list-stages"], cwd=poisoned_cwd, PATH=path)
    assert run.returncode == 0, run.stdout + run.stderr
    torchrun = shutil.which("torchrun", path=path)
    assert torchrun, "torchrun comes with torch"
    # the README's launch: torchrun --no-python qpt ... runs the console script on each rank
    run = _run(
        [torchrun, "--nproc_per_node", "1", "--no-python", "qpt", "run", "--list-stages"],
        cwd=poisoned_cwd,
        PATH=path,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "was imported" not in run.stdout + run.stderr

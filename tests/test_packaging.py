"""What a user installs: the wheel and sdist built from this checkout, and the install script.

The distributions are built with setuptools' PEP 517 hooks (what ``pip wheel .``
and ``python -m build`` call) from a copy of the checkout, so nothing is
written into it.  The wheel must hold every file the runtime and the CLIs open
(models, demo face, export configs, ``py.typed``) and nothing else; the sdist
must hold what a user of it needs beyond the wheel (the install script, the C
API, the examples) and no tests, caches or build outputs.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from configparser import ConfigParser
from pathlib import Path

import pytest

import mer_edge
from mer_edge._demo import DEMO_FACE
from mer_edge._models import MODELS_DIR

REPO = Path(__file__).resolve().parents[1]
# Left out of the copy the distributions are built from: VCS, caches, earlier builds.
NOT_SOURCE = shutil.ignore_patterns(".git", "__pycache__", "*.pyc", "*.egg-info", "build", "dist",
                                    ".pytest_cache", ".mypy_cache", ".ruff_cache")


def _build(hook: str, source: Path, out: Path) -> Path:
    """Runs setuptools' PEP 517 ``hook`` (``build_wheel``, ``build_sdist``) in ``source``."""
    code = (f"import sys\nfrom setuptools import build_meta\n"
            f"print('built', build_meta.{hook}(sys.argv[1]))\n")  # the build logs to stdout too
    done = subprocess.run([sys.executable, "-c", code, str(out)], cwd=source, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    return out / done.stdout.splitlines()[-1].split()[-1]


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``{"wheel": ..., "sdist": ...}`` built from a copy of this checkout."""
    root = tmp_path_factory.mktemp("dist")
    source = root / "source"
    shutil.copytree(REPO, source, ignore=NOT_SOURCE)
    return {"sdist": _build("build_sdist", source, root / "out"),
            "wheel": _build("build_wheel", source, root / "out")}


def _package_files(folder: Path, package: str) -> set[str]:
    """Every file under ``folder`` that belongs in the wheel, as ``package/...`` names."""
    return {f"{package}/{path.relative_to(folder).as_posix()}"
            for path in folder.rglob("*") if path.is_file()
            and "__pycache__" not in path.parts and path.suffix != ".pyc"}


def test_the_wheel_holds_the_packages_and_their_data_and_nothing_else(dists):
    names = set(zipfile.ZipFile(dists["wheel"]).namelist())
    content = {n for n in names if ".dist-info/" not in n}
    expected = (_package_files(REPO / "mer_edge", "mer_edge")
                | _package_files(REPO / "export", "mer_edge_export"))
    assert content == expected
    # what the runtime and the CLIs open at run time
    package = Path(mer_edge.__file__).parent
    opened = [MODELS_DIR / "flowmag_spotter.onnx", DEMO_FACE, package / "py.typed"]
    assert {f"mer_edge/{p.relative_to(package).as_posix()}" for p in opened} <= names
    assert {f"mer_edge/models/{p.name}" for p in MODELS_DIR.glob("*.onnx")} <= names
    assert any(n.startswith("mer_edge_export/configs/") and n.endswith(".json") for n in names)


def test_the_wheel_commands_start_without_importing_torch(dists):
    with zipfile.ZipFile(dists["wheel"]) as wheel:
        entry_file = next(n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt"))
        entries = ConfigParser()
        entries.read_string(wheel.read(entry_file).decode())
    scripts = dict(entries["console_scripts"])
    assert set(scripts) == {"mer-edge", "mer-edge-train", "mer-edge-loso"}
    for program, target in scripts.items():
        module, function = target.split(":")
        # the target module itself must import without PyTorch (the runtime install has none)
        code = ("import importlib, sys\nsys.modules['torch'] = None\n"
                f"assert callable(getattr(importlib.import_module({module!r}), {function!r}))\n")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, f"{program} = {target}\n{done.stderr[-2000:]}"


@pytest.mark.parametrize("program, function", [("mer-edge-train", "train"),
                                               ("mer-edge-loso", "loso")])
def test_training_commands_without_pytorch_say_so_in_one_line(program, function):
    code = ("import sys\nsys.modules['torch'] = None  # as in a runtime-only install\n"
            f"sys.argv = [{program!r}, '--help']\n"
            f"from mer_edge_export._launch import {function}\n{function}()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"{program}: error: PyTorch is not installed (the runtime install leaves it out): "
        "pip install 'mer-edge[train]' (from a checkout: bash scripts/install.sh --train)"]


# The export modules users run as ``python -m`` that need no PyTorch; every other one must say
# that PyTorch is missing in the launcher's one line.
TORCH_FREE_COMMANDS = {"calibrate", "placeholders", "tensorrt"}
RUNNABLE_EXPORT_MODULES = sorted(path.stem for path in (REPO / "export").glob("*.py")
                                 if re.search('^if __name__ == "__main__":', path.read_text(),
                                              re.MULTILINE))


@pytest.fixture()
def without_torch(tmp_path: Path) -> dict[str, str]:
    """An environment in which ``import torch`` fails as in a runtime-only install."""
    stub = tmp_path / "no_torch"
    stub.mkdir()
    (stub / "torch.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(stub), *filter(None, [os.environ.get("PYTHONPATH")])])}


def test_the_runnable_export_modules_are_found():
    assert set(RUNNABLE_EXPORT_MODULES) == {"calibrate", "linear_recognizer", "loso", "onnx_export",
                                            "placeholders", "recipe", "tensorrt", "train"}


@pytest.mark.parametrize("module", RUNNABLE_EXPORT_MODULES)
def test_python_m_export_modules_without_pytorch_say_so_in_one_line(module, without_torch,
                                                                    tmp_path):
    done = subprocess.run([sys.executable, "-m", f"mer_edge_export.{module}", "--help"],
                          cwd=tmp_path, env=without_torch, capture_output=True, text=True,
                          timeout=120)
    if module in TORCH_FREE_COMMANDS:
        assert (done.returncode, done.stderr) == (0, "")
        assert done.stdout.startswith("usage:")
        return
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"python -m mer_edge_export.{module}: error: PyTorch is not installed (the runtime install "
        "leaves it out): pip install 'mer-edge[train]' (from a checkout: bash scripts/install.sh "
        "--train)"]


def test_the_sdist_has_the_install_script_c_api_and_examples_but_no_tests(dists):
    with tarfile.open(dists["sdist"]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    wanted = {"setup.py", "README.md", "scripts/install.sh", "cpp_bindings/Makefile",
              "cpp_bindings/CMakeLists.txt", "cpp_bindings/README.md",
              "cpp_bindings/include/mer_edge/mer_edge.h", "cpp_bindings/src/mer_edge_c.cpp",
              "cpp_bindings/examples/process_frames.c", "mer_edge/models/flowmag_spotter.onnx",
              *(f"examples/{p.name}" for p in (REPO / "examples").glob("*.py"))}
    assert wanted <= names
    unwanted = [n for n in names if n == "tests" or n.startswith("tests/") or n.endswith(".pyc")
                or "__pycache__" in n or n.startswith("cpp_bindings/build")]
    assert unwanted == []


def _install_script(python: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": str(python)}
    return subprocess.run(["bash", str(REPO / "scripts" / "install.sh")], env=env,
                          capture_output=True, text=True, timeout=60)


def test_install_script_names_a_python_that_does_not_run(tmp_path):
    missing = tmp_path / "no" / "python"
    done = _install_script(missing)
    assert (done.returncode, done.stderr.splitlines()) == (2, [
        f"install.sh: error: {missing} does not run as a Python interpreter (set PYTHON to one)"])


def test_install_script_refuses_a_python_setup_py_does_not_accept(tmp_path):
    old = tmp_path / "python3.9"
    old.write_text("#!/bin/sh\necho 3.9\n")  # answers the version question as Python 3.9 would
    old.chmod(0o755)
    done = _install_script(old)
    assert (done.returncode, done.stderr.splitlines()) == (2, [
        f"install.sh: error: {old} is Python 3.9; mer_edge needs 3.10 to 3.12 (set PYTHON to one, "
        "e.g. a virtual environment's bin/python)"])

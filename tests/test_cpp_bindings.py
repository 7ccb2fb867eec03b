"""The C API in ``cpp_bindings/``: build ``libmer_edge_c`` and its probes, run them.

The library and two probe programs (``cpp_bindings/tests/capi_probe.c`` and
``hpp_probe.cpp``) are compiled with gcc/g++ against this interpreter's
embedding library, then run as subprocesses that import ``mer_edge`` from this
checkout.  The probes only report (``step<TAB>status<TAB>text`` per line);
the assertions live here.  Skipped without a compiler or Python headers.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BINDINGS = REPO / "cpp_bindings"
VIDEO = Path(os.environ.get("MER_EDGE_TEST_VIDEO",
                           REPO.parent / "shared" / "data" / "videos" / "default.wmv"))

# MerEdgeStatus values: part of the ABI, pinned here on purpose.
OK, INVALID_ARGUMENT, MODEL_ERROR, BACKEND_ERROR, RUNTIME_ERROR = range(5)


def _package_version() -> str:
    text = (REPO / "mer_edge" / "_version.py").read_text()
    return re.search(r'^__version__ = "([^"]+)"', text, re.M).group(1)


def _embed_flags() -> tuple[list[str], list[str]]:
    """Compile and link flags to embed this interpreter (what python3-config --embed gives)."""
    include = Path(sysconfig.get_paths()["include"])
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    libname = f"python{sysconfig.get_config_var('LDVERSION')}"
    if not (include / "Python.h").is_file():
        pytest.skip(f"no Python headers in {include}")
    if not any(Path(libdir).glob(f"lib{libname}.*")):
        pytest.skip(f"no lib{libname} to embed in {libdir!r}")
    extra = (sysconfig.get_config_var("LIBS") or "").split()
    return [f"-I{include}"], [f"-L{libdir}", f"-l{libname}", f"-Wl,-rpath,{libdir}", *extra]


def _compile(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stderr}"


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Builds libmer_edge_c.so, capi_probe and hpp_probe; returns their folder."""
    if shutil.which("gcc") is None or shutil.which("g++") is None:
        pytest.skip("gcc/g++ not found")
    py_cflags, py_ldflags = _embed_flags()
    out = tmp_path_factory.mktemp("cpp_bindings")
    include = f"-I{BINDINGS / 'include'}"
    # No -Werror on the library: other Python versions' headers may warn.
    _compile(["g++", "-std=c++17", "-O1", "-fPIC", "-shared", "-fvisibility=hidden",
              "-Wall", "-Wextra", "-DMER_EDGE_BUILDING_LIBRARY",
              f'-DMER_EDGE_VERSION="{_package_version()}"', include, *py_cflags,
              *(str(BINDINGS / "src" / name) for name in ("mer_edge_c.cpp", "python_support.cpp")),
              "-o", str(out / "libmer_edge_c.so"),
              *py_ldflags])
    app_ldflags = [f"-L{out}", "-lmer_edge_c", f"-Wl,-rpath,{out}"]
    _compile(["gcc", "-std=c11", "-Wall", "-Werror", "-pthread", include,
              str(BINDINGS / "tests" / "capi_probe.c"), "-o", str(out / "capi_probe"), *app_ldflags])
    _compile(["g++", "-std=c++17", "-Wall", "-Werror", include,
              str(BINDINGS / "tests" / "hpp_probe.cpp"), "-o", str(out / "hpp_probe"), *app_ldflags])
    _compile(["gcc", "-std=c11", "-Wall", "-Werror", include,
              str(BINDINGS / "examples" / "process_frames.c"), "-o", str(out / "process_frames"),
              *app_ldflags])
    return out


def _execute(program: Path, *args: object, python: str = sys.executable
             ) -> subprocess.CompletedProcess:
    """Runs a built program with mer_edge importable from this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env["MER_EDGE_PYTHON"] = python  # this interpreter's environment (a venv too)
    return subprocess.run([str(program), *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=120)


def _run(program: Path, *args: object) -> dict[str, tuple[int, str]]:
    """Runs a probe; step -> (status, text)."""
    done = _execute(program, *args)
    assert done.returncode == 0, f"{program.name} exited {done.returncode}\n{done.stderr[-4000:]}"
    steps = {}
    for line in done.stdout.splitlines():
        step, status, text = line.split("\t", 2)
        steps[step] = (int(status), text)
    return steps


@pytest.fixture(scope="module")
def probe(build: Path) -> dict[str, tuple[int, str]]:
    return _run(build / "capi_probe")


def _ok_json(steps: dict[str, tuple[int, str]], step: str) -> dict:
    status, text = steps[step]
    assert status == OK, f"{step}: status {status}: {text}"
    return json.loads(text)


def test_exports_the_c_functions(build: Path) -> None:
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm not found")
    listing = subprocess.run([nm, "-D", "--defined-only", str(build / "libmer_edge_c.so")],
                             capture_output=True, text=True, check=True).stdout
    exported = {line.split()[-1] for line in listing.splitlines() if " T " in line}
    assert exported == {"mer_edge_engine_create", "mer_edge_engine_process",
                        "mer_edge_engine_flush", "mer_edge_engine_close", "mer_edge_free",
                        "mer_edge_version"}


def test_version_is_the_package_version(probe: dict) -> None:
    assert probe["version"] == (OK, _package_version())


def test_create_process_flush_close_on_noise(probe: dict) -> None:
    assert probe["create"] == (OK, "")
    for i in range(5):
        result = _ok_json(probe, f"process_{i}")
        assert result == {"frame": i, "timestamp_ms": 1000.0 + 40.0 * i, "faces": [], "events": []}
    # A rejected frame leaves the stream as it was.
    assert _ok_json(probe, "process_after_error")["frame"] == 5
    assert _ok_json(probe, "flush") == {"events": []}


@pytest.mark.parametrize("step, status, message", [
    # options
    ("create_unknown_key", INVALID_ARGUMENT, "unknown option 'no_such_option'"),
    ("create_unknown_spotting_key", INVALID_ARGUMENT, "unknown option 'spotting.nope'"),
    # the "spotting" keys go over the spotter's calibration (EngineOptions.spotting_overrides)
    ("create_bad_spotting_value", INVALID_ARGUMENT,
     "spotting_overrides {'p': 1.5} over the detection parameters of flowmag_spotter.onnx"),
    ("create_spotting_twice", INVALID_ARGUMENT, "either 'spotting' or 'spotting_overrides'"),
    ("create_spotting_lag", INVALID_ARGUMENT, 'spotting.k_ms: set the motion lag with the top-level "k_ms"'),
    ("create_bad_json", INVALID_ARGUMENT, "options_json is not valid JSON"),
    ("create_not_object", INVALID_ARGUMENT, "must be a JSON object, got list"),
    ("create_callback", INVALID_ARGUMENT, "'result_callback' cannot be set"),
    ("create_bad_value", INVALID_ARGUMENT, "max_faces must be a whole number >= 1, got 0"),  # from Python
    ("create_null_out", INVALID_ARGUMENT, "out is NULL"),
    ("create_missing_model", MODEL_ERROR, "/no/such/model.onnx"),  # mer_edge.ModelError
    ("create_unknown_backend", BACKEND_ERROR, "no_such_backend"),  # mer_edge.BackendError
    # frames
    ("process_null_engine", INVALID_ARGUMENT, "engine is NULL"),
    ("process_null_buffer", INVALID_ARGUMENT, "bgr buffer is NULL"),
    ("process_bad_stride", INVALID_ARGUMENT, "stride_bytes must be >= width * 3 = 480, got 479"),
    ("process_bad_size", INVALID_ARGUMENT, "width and height must be > 0, got 0x120"),
    ("process_too_small", INVALID_ARGUMENT, "got shape (8, 8, 3)"),  # from Python
    ("process_null_result", INVALID_ARGUMENT, "result_json is NULL"),
    ("process_backwards", INVALID_ARGUMENT,
     "timestamp_ms 1000.0 is not after the previous 1160.0"),  # from Python
    # closed handles
    ("process_closed", INVALID_ARGUMENT, "not a live handle"),
    ("flush_closed", INVALID_ARGUMENT, "not a live handle"),
])
def test_errors_have_a_status_and_a_message(probe: dict, step: str, status: int,
                                            message: str) -> None:
    got_status, got_message = probe[step]
    assert got_status == status, f"{step}: {got_message}"
    assert message in got_message


def test_spotting_keys_set_over_the_calibration(probe: dict) -> None:
    assert probe["create_spotting_keys"] == (OK, "")


def test_engines_on_several_threads(probe: dict) -> None:
    assert _ok_json(probe, "threads") == {"frames_ok": 30}


def test_cpp_wrapper(build: Path) -> None:
    steps = _run(build / "hpp_probe")
    assert steps["unknown_option"][0] == INVALID_ARGUMENT
    assert "not_an_option" in steps["unknown_option"][1]
    assert json.loads(steps["process"][1])["frame"] == 0
    assert json.loads(steps["process_moved"][1])["frame"] == 1
    assert steps["backwards"] == (INVALID_ARGUMENT,
                                  "timestamp_ms 5.0 is not after the previous 20.0")
    assert json.loads(steps["flush"][1]) == {"events": []}
    assert "unexpected" not in steps


def _raw_frames(tmp_path: Path, count: int) -> tuple[Path, int, int, float]:
    """The first ``count`` frames of VIDEO as a raw BGR file: (path, width, height, fps)."""
    if not VIDEO.is_file():
        pytest.skip(f"{VIDEO} not found")
    cv2 = pytest.importorskip("cv2")
    capture = cv2.VideoCapture(str(VIDEO))
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    frames = []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    if len(frames) < count:
        pytest.skip(f"cannot decode {count} frames of {VIDEO}")
    height, width = frames[0].shape[:2]
    raw = tmp_path / "frames.bgr"
    raw.write_bytes(b"".join(frame.tobytes() for frame in frames))
    return raw, width, height, fps


def test_real_frames_find_a_face(build: Path, tmp_path: Path) -> None:
    raw, width, height, fps = _raw_frames(tmp_path, 30)
    packed = _run(build / "capi_probe", raw, width, height, 30, fps, 0)
    results = [_ok_json(packed, f"frame_{i}") for i in range(30)]
    with_face = [r for r in results if r["faces"]]
    assert len(with_face) >= 25, f"a face in only {len(with_face)} of 30 frames"
    for result in with_face:
        x0, y0, x1, y1 = result["faces"][0]["box"]
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
    assert len({face["track_id"] for r in results for face in r["faces"]}) == 1
    assert _ok_json(packed, "flush").keys() == {"events"}
    # Padded rows (stride > width * 3) must give exactly the same results.
    padded = _run(build / "capi_probe", raw, width, height, 30, fps, 40)
    assert padded == packed


def test_example_processes_a_frame_file_and_refuses_a_wrong_size(build: Path, tmp_path: Path) -> None:
    raw, width, height, fps = _raw_frames(tmp_path, 12)
    done = _execute(build / "process_frames", raw, width, height, fps)
    assert done.returncode == 0, done.stderr[-2000:]
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(results) == 13 and results[-1].keys() == {"events"}  # 12 frames, then the flush
    assert sum(bool(r.get("faces")) for r in results[:12]) >= 10
    wrong = _execute(build / "process_frames", raw, width - 12, height, fps)
    assert wrong.returncode == 2 and "not whole" in wrong.stderr and "WIDTH and HEIGHT" in wrong.stderr
    # A pipe cannot be measured first: its frames run, and a torn last frame is an error.
    piped = subprocess.run(
        f"cat {raw} | head -c {raw.stat().st_size - 100} > {tmp_path / 'torn.bgr'}", shell=True)
    assert piped.returncode == 0
    fifo = tmp_path / "frames.fifo"
    os.mkfifo(fifo)
    feeder = subprocess.Popen(f"cat {tmp_path / 'torn.bgr'} > {fifo}", shell=True)
    streamed = _execute(build / "process_frames", fifo, width, height, fps)
    feeder.wait(timeout=60)
    frames = [json.loads(line) for line in streamed.stdout.splitlines() if line.startswith("{")]
    assert streamed.returncode == 2 and len(frames) == 11, streamed.stderr[-2000:]
    assert all("faces" in result for result in frames)  # no flush after the torn frame
    assert "not a whole" in streamed.stderr


def test_spotting_keys_offered_are_those_the_object_takes(probe: dict) -> None:
    status, message = probe["create_unknown_spotting_key"]
    assert status == INVALID_ARGUMENT and "me_quiet_ratio" in message
    assert "k_ms" not in message  # the lag is the top-level option, refused under "spotting"


def test_a_python_that_does_not_exist_is_named(build: Path, tmp_path: Path) -> None:
    done = _execute(build / "process_frames", python=str(tmp_path / "no" / "python"))
    assert done.returncode != 0
    assert f"MER_EDGE_PYTHON={tmp_path / 'no' / 'python'} is not an executable" in done.stderr


def test_a_folder_is_not_taken_for_a_python(build: Path, tmp_path: Path) -> None:
    done = _execute(build / "process_frames", python=str(tmp_path))
    assert done.returncode != 0
    assert f"MER_EDGE_PYTHON={tmp_path} is not an executable Python interpreter" in done.stderr


def test_an_environment_of_another_python_version_is_named(build: Path, tmp_path: Path) -> None:
    # A virtual environment made by another Python than the one the library embeds:
    # its site-packages cannot be used, and "mer_edge is not on sys.path" would mislead.
    other = (3, sys.version_info.minor - 1)
    python = tmp_path / "env" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.symlink_to(sys.executable)
    (tmp_path / "env" / "pyvenv.cfg").write_text(
        f"home = {Path(sys.executable).parent}\ninclude-system-site-packages = false\n"
        f"version = {other[0]}.{other[1]}.4\n")
    done = _execute(build / "process_frames", python=str(python))
    assert done.returncode != 0
    embedded = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert (f"MER_EDGE_PYTHON={python} is a Python {other[0]}.{other[1]} environment, but this "
            f"libmer_edge_c embeds Python {embedded}") in done.stderr


def test_a_c_caller_names_a_macro_spotter_in_the_options(build: Path, tmp_path: Path) -> None:
    """``"macro_spotting_model"`` is an EngineOptions field, so the C options take it; a wrong file fails cleanly."""
    raw, width, height, fps = _raw_frames(tmp_path, 12)
    regional = REPO / "mer_edge" / "models" / "regional_tcn_spotter.onnx"
    options = json.dumps({"macro_spotting_model": str(regional)})
    done = _execute(build / "process_frames", "-o", options, raw, width, height, fps)
    assert done.returncode == 0, done.stderr[-2000:]
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(results) == 13 and sum(bool(r.get("faces")) for r in results[:12]) >= 10
    recognizer = REPO / "mer_edge" / "models" / "facs_linear_recognizer.onnx"
    wrong = _execute(build / "process_frames", "-o",
                     json.dumps({"macro_spotting_model": str(recognizer)}), raw, width, height, fps)
    assert wrong.returncode == 1 and "macro_spotting_model" in wrong.stderr
    assert "expected spotting" in wrong.stderr and "Traceback" not in wrong.stderr

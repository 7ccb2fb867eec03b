"""``--threads``: one definition, the same help and check in every training CLI."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from export import loso, train  # noqa: E402
from export.threads import THREADS_HELP  # noqa: E402

#: Each CLI with arguments that pass its own checks and then stop with an error of their own.
CLIS = {
    "mer-edge-train": (train.main, ["no-such-method", "--bench", "nowhere"]),
    "mer-edge-loso": (loso.main, ["linear"]),  # no --dataset/--bench: a usage error
}


@pytest.fixture
def torch_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _exit(main, argv, capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    out, err = capsys.readouterr()
    return stopped.value.code, out, err


@pytest.mark.parametrize("prog", sorted(CLIS))
@pytest.mark.parametrize("value", ["0", "-2", "1.5", "two", ""])
def test_a_bad_thread_count_is_one_line_naming_the_option(prog, value, capsys):
    main, _ = CLIS[prog]
    code, _, err = _exit(main, ["linear", "--threads", value], capsys)
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"{prog}: error: argument --threads: expected a positive whole number, got {value!r}")


@pytest.mark.parametrize("prog", sorted(CLIS))
def test_every_cli_shows_the_same_help(prog, capsys):
    main, _ = CLIS[prog]
    code, out, _ = _exit(main, ["--help"], capsys)
    assert code == 0 and " ".join(THREADS_HELP.split()) in " ".join(out.split())


@pytest.mark.parametrize("prog", sorted(CLIS))
def test_a_thread_count_is_applied_before_the_run(prog, capsys, torch_threads):
    main, argv = CLIS[prog]
    wanted = 3 if torch.get_num_threads() != 3 else 2
    code, _, err = _exit(main, [*argv, "--threads", str(wanted)], capsys)
    assert code == 2 and "argument --threads" not in err  # the run stopped on its own error
    assert torch.get_num_threads() == wanted

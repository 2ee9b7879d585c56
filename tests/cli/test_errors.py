"""No stack trace anywhere: exit codes, one-line messages, ``--debug``, a closed pipe.

Usage errors exit 2, data and system errors 1, a closed stdout 141; ``--debug`` shows the
traceback. Files are written here; permissions are faked (the tests may run as root).
"""

import builtins
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cmcd.cli import main as cli
from cmcd.cli.main import main


def _deny(monkeypatch, denied: Path) -> None:
    """Make opening ``denied`` raise PermissionError, as for a file of mode 000."""
    real_open = builtins.open

    def guarded(file, *args, **kwargs):
        if isinstance(file, (str, Path)) and Path(file).resolve() == denied.resolve():
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded)
    monkeypatch.setattr(io, "open", guarded)


@pytest.mark.parametrize("name", ["a.npy", "a.csv", "a.npz"])
def test_an_unreadable_tv_input_is_a_data_error_naming_it(tmp_path, capsys, monkeypatch, name):
    x = np.random.default_rng(0).normal(size=(50, 2))
    path = tmp_path / name
    {"a.npy": lambda: np.save(path, x), "a.npz": lambda: np.savez(path, x=x)}.get(
        name, lambda: np.savetxt(path, x, delimiter=",")
    )()
    np.save(tmp_path / "b.npy", x)
    _deny(monkeypatch, path)
    assert main(["tv", str(path), str(tmp_path / "b.npy")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and name in err and "Permission denied" in err


def test_an_unreadable_config_is_a_data_error_naming_it(tmp_path, capsys, monkeypatch):
    config = tmp_path / "c.yaml"
    config.write_text("seed: 0\n")
    _deny(monkeypatch, config)
    assert main(["run", str(config), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "c.yaml" in err and "permissions" in err and err.count("\n") == 1


def test_unexpected_errors_are_one_line_and_debug_shows_the_traceback(capsys, monkeypatch):
    def broken(args):
        raise AttributeError("'NpzFile' object has no attribute 'dtype'")

    monkeypatch.setitem(cli.COMMANDS, "defaults", (*cli.COMMANDS["defaults"][:3], broken))
    assert main(["defaults"]) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith("cmcd defaults: error: internal error AttributeError") and "--debug" in err
    )
    assert err.count("\n") == 1
    with pytest.raises(AttributeError):
        main(["defaults", "--debug"])
    with pytest.raises(AttributeError):
        main(["--debug", "defaults"])


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ValueError("config key 'seed' must be ..."), 2),
        (FileNotFoundError("config file not found: x.yaml"), 2),
        (PermissionError(13, "Permission denied", "ckpt/a.pt"), 1),
        (OSError(30, "Read-only file system", "out/result.json"), 1),
        (MemoryError(), 1),
        (RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried"), 1),
    ],
)
def test_exit_codes_usage_two_data_one(capsys, monkeypatch, error, code):
    def fail(args):
        raise error

    monkeypatch.setitem(cli.COMMANDS, "defaults", (*cli.COMMANDS["defaults"][:3], fail))
    assert main(["defaults"]) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    if isinstance(error, OSError) and error.filename:
        assert error.filename in err
    if code == 1 and not isinstance(error, OSError):
        assert "out of memory" in err


@pytest.mark.slow
def test_a_closed_pipe_is_quiet(tmp_path):
    script = "import sys; from cmcd.cli.main import main\nsys.exit(main(['defaults']))\n"
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.stdout.close()  # the reader is gone before cmcd writes: `cmcd defaults | true`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert err == ""


def test_broken_pipe_in_a_command_exits_141(capsys, monkeypatch):
    def closed(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setitem(cli.COMMANDS, "defaults", (*cli.COMMANDS["defaults"][:3], closed))
    assert main(["defaults"]) == 141
    assert capsys.readouterr().err == ""

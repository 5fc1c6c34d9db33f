"""The TFLite runtime's 'Created TensorFlow Lite XNNPACK delegate' line stays out of the CLI's
stderr, and nothing else written to stderr while models are built is lost."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ecgqa_tools.encoders._delineation import quiet_native_info


def test_known_info_line_is_dropped_and_other_lines_are_kept(capfd):
    with quiet_native_info():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"E real native error\n")
        print("python warning", file=sys.stderr)
    err = capfd.readouterr().err
    assert "XNNPACK" not in err
    assert "E real native error" in err and "python warning" in err


def test_fd2_is_restored_after_an_exception(capfd):
    with pytest.raises(RuntimeError), quiet_native_info():
        raise RuntimeError("boom")
    os.write(2, b"after the block\n")
    assert "after the block" in capfd.readouterr().err


@pytest.mark.parametrize("argv", [["measure", "ptbxl-00473"], ["tokens", "ptbxl-00473"]])
def test_cli_stderr_has_no_xnnpack_line(argv):
    env = {**os.environ, "ECGQA_DELINEATION_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "ecgqa_tools.cli", *argv], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "XNNPACK" not in done.stderr and "INFO:" not in done.stderr

"""The command line: round trips, safety of outputs, one-line errors with status 2."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neurocodec import media
from neurocodec.cli.main import main


@pytest.fixture
def png(tmp_path, image):
    path = tmp_path / "in.png"
    media.write_image(path, image)
    return path


def test_encode_decode_info_list(toy, png, tmp_path, capsys):
    out = tmp_path / "x.ncs"
    assert main(["encode", str(png), "-o", str(out), "--codec", "toy-test", "--quality", "2"]) == 0
    assert main(["decode", str(out), "-o", str(tmp_path / "y.png")]) == 0
    assert media.read_image(tmp_path / "y.png").shape == media.read_image(png).shape
    assert main(["info", str(out), "--json"]) == 0
    assert '"codec": "toy-test"' in capsys.readouterr().out
    assert main(["list"]) == 0
    assert "toy-test" in capsys.readouterr().out


def test_list_names_each_weights_file_once_then_each_quality(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert out.count("mbt2018-mean.safetensors (sha256") == 1
    block = ("\n" + out).split("\nmbt2018-mean ", 1)[1].split("\n")[1:]
    block = block[:next(i for i, line in enumerate(block) if not line.startswith(" "))]
    assert [line.split(":")[0].strip() for line in block[1:]] == [f"q{q}" for q in range(1, 10)]


def test_never_overwrites_without_force_and_never_over_the_input(toy, png, tmp_path, capsys):
    out = tmp_path / "x.ncs"
    out.write_bytes(b"keep me")
    assert main(["encode", str(png), "-o", str(out), "--codec", "toy-test"]) == 2
    assert out.read_bytes() == b"keep me"
    assert main(["encode", str(png), "-o", str(out), "--codec", "toy-test", "--force"]) == 0
    assert main(["decode", str(out), "-o", str(out), "--force"]) == 2
    assert "over the input" in capsys.readouterr().err


def test_outputs_get_the_permissions_of_a_plain_write(toy, png, tmp_path):
    """Outputs are written to a temporary file first; they must not keep its owner-only mode."""
    old_mask = os.umask(0o027)
    try:
        assert main(["encode", str(png), "-o", str(tmp_path / "x.ncs"), "--codec", "toy-test"]) == 0
        assert main(["decode", str(tmp_path / "x.ncs"), "-o", str(tmp_path / "y.png")]) == 0
    finally:
        os.umask(old_mask)
    for name in ("x.ncs", "y.png"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o640, name


BAD_CASES = {
    "truncated": lambda good: good[: len(good) // 2],
    "flipped byte": lambda good: good[:20] + bytes([good[20] ^ 1]) + good[21:],
    "bad magic": lambda good: b"XX" + good[2:],
    "unknown version": lambda good: good[:2] + b"\x09" + good[3:],
    "empty": lambda good: b"",
    "not ncs": lambda good: b"\x89PNG\r\n\x1a\n" + bytes(100),
}


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_files_exit_2_with_one_line_and_no_output(toy, png, tmp_path, capsys, case):
    good = tmp_path / "good.ncs"
    assert main(["encode", str(png), "-o", str(good), "--codec", "toy-test"]) == 0
    bad = tmp_path / "bad.ncs"
    bad.write_bytes(BAD_CASES[case](good.read_bytes()))
    capsys.readouterr()
    out = tmp_path / "out.png"
    assert main(["decode", str(bad), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neurocodec: error: ") and err.count("\n") == 1
    assert not out.exists() and list(tmp_path.glob(".out.png*")) == []


@pytest.mark.parametrize("content,name", [(b"not an image at all", "x.png"), (b"", "y.jpg"),
                                          (b"RIFF....WAVEfmt ", "z.wav"), (b"\x00" * 64, "v.mp4")])
def test_unreadable_inputs_exit_2(toy, tmp_path, capsys, content, name):
    src = tmp_path / name
    src.write_bytes(content)
    codec = ["--codec", "toy-test"] if name.endswith((".png", ".jpg")) else []
    assert main(["encode", str(src), "-o", str(tmp_path / "o.ncs"), *codec]) == 2
    assert capsys.readouterr().err.startswith("neurocodec: error: ")
    assert not (tmp_path / "o.ncs").exists()


def test_missing_input_and_unknown_extension(tmp_path, capsys):
    assert main(["encode", str(tmp_path / "nope.png")]) == 2
    (tmp_path / "a.xyz").write_bytes(b"1")
    assert main(["encode", str(tmp_path / "a.xyz")]) == 2
    assert main(["decode", str(tmp_path / "nope.ncs")]) == 2


def test_rgba_input_is_refused_not_silently_changed(toy, tmp_path, capsys):
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 4), np.uint8)).save(tmp_path / "a.png")
    assert main(["encode", str(tmp_path / "a.png"), "--codec", "toy-test"]) == 2
    assert "alpha" in capsys.readouterr().err


def test_console_script_and_module_entry_points():
    script = str(Path(sys.executable).parent / "neurocodec")
    for cmd in ([sys.executable, "-m", "neurocodec", "--help"], [script, "--version"]):
        res = subprocess.run(cmd, capture_output=True, text=True)
        assert res.returncode == 0 and "neurocodec" in res.stdout

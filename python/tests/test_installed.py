"""What `pip install qualify-emulator` gives: the binary on PATH, `python -m qualify`, the module."""
import os
import shutil
import subprocess
import sys

import qualify


def test_no_cargo_on_path():
    """The suite proves that the wheel alone is enough: nothing here may compile qualify."""
    assert shutil.which("cargo") is None, shutil.which("cargo")


def test_the_binary_is_the_wheels_and_prints_its_version():
    binary = shutil.which("qualify")
    assert binary is not None
    assert os.path.realpath(binary).startswith(os.path.realpath(sys.prefix)), binary
    assert qualify.find_qualify_bin() == binary
    out = subprocess.run(["qualify", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"qualify {qualify.__version__}"
    via_module = subprocess.run([sys.executable, "-m", "qualify", "--version"],
                                capture_output=True, text=True, check=True)
    assert via_module.stdout == out.stdout


def test_tokens_come_from_the_binary(qualify_server):
    token = qualify_server.token("9daaeb1c-4195-4db5-9f1d-509eb70c8c2d", admin=True, app_only=True)
    assert token.count(".") == 2  # a JWT, printed alone

"""Where the `qualify` binary of this installation is."""
from __future__ import annotations

import os
import shutil
import sys
import sysconfig


def find_qualify_bin() -> str:
    """The `qualify` executable: `QUALIFY_BIN` when set (another build, e.g. a debug one), else
    the one this wheel installed beside the interpreter's scripts, else the first on PATH."""
    override = os.environ.get("QUALIFY_BIN")
    if override:
        return override
    exe = "qualify" + (sysconfig.get_config_var("EXE") or "")
    dirs = [sysconfig.get_path("scripts")]
    user = f"{os.name}_user"
    if user in sysconfig.get_scheme_names():
        dirs.append(sysconfig.get_path("scripts", user))
    for d in dirs:
        candidate = os.path.join(d, exe)
        if os.path.isfile(candidate):
            return candidate
    # A virtual environment that is not activated: its scripts sit beside its interpreter.
    candidate = os.path.join(os.path.dirname(sys.executable), exe)
    if os.path.isfile(candidate):
        return candidate
    found = shutil.which("qualify")
    if found:
        return found
    raise FileNotFoundError(
        "the qualify binary was not found: install the qualify-emulator wheel, or set QUALIFY_BIN"
    )

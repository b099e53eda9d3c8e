"""`python -m qualify ARGS` runs the packaged binary with ARGS."""
import os
import subprocess
import sys

from qualify._binary import find_qualify_bin


def main() -> None:
    binary = find_qualify_bin()
    if os.name == "posix":
        os.execv(binary, [binary, *sys.argv[1:]])
    sys.exit(subprocess.call([binary, *sys.argv[1:]]))


if __name__ == "__main__":
    main()

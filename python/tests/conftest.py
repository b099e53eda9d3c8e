"""The qualify-emulator package's own tests, run by .ci/distribution in a fresh virtual
environment where the wheel is installed and no cargo is on PATH. The plugin under test is the
installed one (its entry point), never this source tree."""
pytest_plugins = ["pytester"]

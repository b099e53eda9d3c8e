"""The package's errors."""


class QualifyError(Exception):
    """qualify could not be started, reached, or asked."""

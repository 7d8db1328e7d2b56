"""The project's exceptions: every user mistake is a ReportgenError with a one-line message."""


class ReportgenError(Exception):
    """A problem the user can fix; the CLI prints its message and exits with code 2."""


class ConfigError(ReportgenError):
    """A bad option or configuration key."""


class InputError(ReportgenError):
    """A corpus or probe file that cannot be used."""


class ModelError(ReportgenError):
    """A model that cannot be loaded or is not supported."""


class OutputError(ReportgenError):
    """An output location that cannot be written."""


class ResourceError(ReportgenError):
    """A build that will not fit its device's memory (found before the model is loaded)."""

class COMPSsException(Exception):
    """Raised by a task to cancel its task group."""

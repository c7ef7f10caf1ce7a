"""Where this process stands: the application's master, a task's worker, or outside COMPSs (3.x API)."""


class _Context:
    def __init__(self) -> None:
        self.role = "out"

    def in_pycompss(self) -> bool:
        return self.role != "out"

    def in_master(self) -> bool:
        return self.role == "master"

    def in_worker(self) -> bool:
        return self.role == "worker"


CONTEXT = _Context()

"""Run one task as a COMPSs Python worker would: ``python -m pycompss.standin.executor PAYLOAD RESULT``."""
import importlib
import os
import pickle
import signal
import sys
import traceback


class TimeOutError(BaseException):
    """Raised by SIGALRM when the task's time_out expires (as the binding's worker does)."""


class TaskCancel(BaseException):
    """Raised by SIGUSR2 when the task's group is cancelled."""


def _raise(kind):
    def handler(signum, frame):
        raise kind()
    return handler


def main(payload_path: str, result_path: str) -> int:
    with open(payload_path, "rb") as handle:
        payload = pickle.load(handle)
    os.environ.update(payload["env"])
    os.sched_setaffinity(0, payload["affinity"])
    from pycompss.util.context import CONTEXT

    CONTEXT.role = "worker"
    signal.signal(signal.SIGALRM, _raise(TimeOutError))
    signal.signal(signal.SIGUSR2, _raise(TaskCancel))
    status, outcome = 0, None
    try:
        signal.alarm(payload["time_out"])
        module = importlib.import_module(payload["module"])  # by name, as COMPSs workers do
        outcome = {"ok": getattr(module, payload["function"])(*payload["args"], **payload["kwargs"])}
    except TimeOutError:
        status, outcome = 3, {"error": "time_out expired", "timeout": True}
    except TaskCancel:
        status, outcome = 4, {"error": "cancelled"}
    except BaseException as error:  # the task's failure
        traceback.print_exc()
        status, outcome = 1, {"error": f"{type(error).__name__}: {error}"}
    finally:
        signal.alarm(0)
    with open(result_path, "wb") as handle:
        pickle.dump(outcome, handle)
    return status


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

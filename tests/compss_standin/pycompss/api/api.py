"""The API calls, logged; outside the runtime they behave as the binding's sequential mode (dummies)."""
from ..standin import runtime
from ..standin.runtime import Future
from ..util.context import CONTEXT


def _master():
    return CONTEXT.in_master() and runtime.RUNTIME is not None


def compss_wait_on(*args, **kwargs):
    runtime.log("api", name="compss_wait_on", count=len(args))
    values = [runtime.RUNTIME.wait_on(a) if _master() and isinstance(a, Future) else a for a in args]
    return values[0] if len(values) == 1 else values


def compss_barrier(no_more_tasks=False):
    runtime.log("api", name="compss_barrier")
    if _master():
        runtime.RUNTIME.barrier()


def compss_barrier_group(group_name):
    runtime.log("api", name="compss_barrier_group", group=group_name)
    if _master():
        runtime.RUNTIME.barrier(group_name)


def compss_cancel_group(group_name):
    runtime.log("api", name="compss_cancel_group", group=group_name)
    if _master():
        runtime.RUNTIME.cancel_group(group_name)


def compss_wait_on_directory(*directory_name):
    runtime.log("api", name="compss_wait_on_directory", directories=list(directory_name))
    if _master():
        for name in directory_name:
            runtime.RUNTIME.get_directory(name)
    return directory_name[0] if len(directory_name) == 1 else directory_name


def compss_delete_file(*file_name):
    runtime.log("api", name="compss_delete_file", files=list(file_name))
    if _master():
        for name in file_name:
            runtime.RUNTIME.delete_file(name)
    return True if len(file_name) == 1 else [True] * len(file_name)


def compss_get_number_of_resources():
    runtime.log("api", name="compss_get_number_of_resources")
    return len(runtime.RUNTIME.nodes) if _master() else 1


class TaskGroup:
    def __init__(self, group_name, implicit_barrier=True):
        self.group_name = group_name
        self.implicit_barrier = implicit_barrier

    def __enter__(self):
        runtime.log("api", name="TaskGroup.__enter__", group=self.group_name, implicit_barrier=self.implicit_barrier)
        if _master():
            runtime.RUNTIME.open_groups.append(self.group_name)

    def __exit__(self, *exc):
        runtime.log("api", name="TaskGroup.__exit__", group=self.group_name)
        if _master():
            runtime.RUNTIME.open_groups.remove(self.group_name)
            if self.implicit_barrier:
                runtime.RUNTIME.barrier(self.group_name)

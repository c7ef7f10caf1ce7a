"""``@task``: in the master, submit the call to the runtime and return a future; elsewhere, call it."""
import functools
import inspect

from ..standin import rules, runtime
from ..util.context import CONTEXT


def _jsonable(kwargs):
    return {k: repr(v) if hasattr(v, "key") else v for k, v in kwargs.items()}


class task:  # noqa: N801 - the binding's name
    def __init__(self, *args, **kwargs):
        self.kwargs = kwargs

    def __call__(self, function):
        rules.check_task_keywords(function, self.kwargs)
        runtime.log("decorate", decorator="task", module=function.__module__, function=function.__name__,
                    arguments=_jsonable(self.kwargs))
        signature = inspect.signature(function)
        parameters = [p.name for p in signature.parameters.values() if p.kind == p.POSITIONAL_OR_KEYWORD]
        varargs = next((p.name for p in signature.parameters.values() if p.kind == p.VAR_POSITIONAL), None)
        options = self.kwargs

        @functools.wraps(function)
        def call(*args, **kwargs):
            constraints = kwargs.pop("_standin_constraints", {})
            failure = kwargs.pop("_standin_on_failure", None)
            if not CONTEXT.in_master():
                return function(*args, **kwargs)
            resolved = rules.resolve_dynamic(constraints, function, args, kwargs)
            description = rules.describe(resolved)
            needs = rules.parse(description)
            on_failure, default = failure if failure else (options.get("on_failure", "RETRY"),
                                                           options.get("defaults", {}).get("returns"))
            runtime.log("call", module=function.__module__, function=function.__name__, constraints=resolved,
                        description=description, needs=needs.__dict__, time_out=options.get("time_out", 0),
                        on_failure=on_failure, groups=list(runtime.RUNTIME.open_groups))
            directions = runtime.directions_of(parameters, varargs, options, args)
            return runtime.RUNTIME.submit(function.__module__, function.__name__, list(args), kwargs, directions,
                                          needs, options.get("time_out", 0), on_failure, default)

        return call

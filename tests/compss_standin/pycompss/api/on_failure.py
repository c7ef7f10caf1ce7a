"""``@on_failure(management=..., returns=default)``: how the runtime treats the task's failure."""
import functools

from ..standin import rules, runtime
from ..util.context import CONTEXT


class on_failure:  # noqa: N801 - the binding's name
    def __init__(self, *args, **kwargs):
        rules.check_on_failure(kwargs)
        self.management = kwargs["management"]
        self.default = kwargs.get("returns")
        self.kwargs = kwargs

    def __call__(self, function):
        runtime.log("decorate", decorator="on_failure", function=function.__name__, arguments=self.kwargs)

        @functools.wraps(function)
        def call(*args, **kwargs):
            if CONTEXT.in_master():
                kwargs["_standin_on_failure"] = (self.management, self.default)
            return function(*args, **kwargs)

        return call

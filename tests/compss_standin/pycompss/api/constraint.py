"""``@constraint``: in the master, hand the constraints to ``@task`` below it (resolved per call there)."""
import functools

from ..standin import runtime
from ..util.context import CONTEXT


class constraint:  # noqa: N801 - the binding's name
    def __init__(self, *args, **kwargs):
        self.kwargs = kwargs

    def __call__(self, function):
        runtime.log("decorate", decorator="constraint", function=function.__name__, arguments=self.kwargs)

        @functools.wraps(function)
        def call(*args, **kwargs):
            if CONTEXT.in_master():
                kwargs["_standin_constraints"] = dict(self.kwargs)
            return function(*args, **kwargs)

        return call

"""``runcompss`` for the stand-in: ``python runcompss.py [--lang=python] [--pythonpath=P] [...] APP ARGS``.

Starts the stand-in runtime, runs APP as the application's ``__main__`` in the master context, waits
for every task, stops. Other runcompss options are accepted and logged.
"""
import os
import runpy
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv):
    options, index = {}, 0
    while index < len(argv) and argv[index].startswith("-"):
        key, _, value = argv[index].lstrip("-").partition("=")
        options[key] = value or "true"
        index += 1
    if index == len(argv):
        sys.exit("usage: runcompss.py [options] APP [ARGS]")
    if options.get("lang", "python") != "python":
        sys.exit(f"the stand-in runs Python applications only, not --lang={options['lang']}")
    app = argv[index]
    pythonpath = [p for p in options.get("pythonpath", "").split(":") if p]
    path = [os.path.abspath(p) for p in pythonpath] + [os.path.dirname(os.path.abspath(app)), HERE]
    sys.path[:0] = path
    from pycompss.standin import runtime
    from pycompss.util.context import CONTEXT

    CONTEXT.role = "master"
    runtime.RUNTIME = runtime.Runtime(path)
    runtime.log("launch", options=options, app=app, args=argv[index + 1:])
    sys.argv = argv[index:]
    code = 0
    try:
        runpy.run_path(app, run_name="__main__")
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        runtime.RUNTIME.stop()
        runtime.log("stop", code=code)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

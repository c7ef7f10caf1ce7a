"""A stand-in for the PyCOMPSs binding, for tests only: the COMPSs code path runs without the Java runtime.

It keeps the binding's import paths and names (``pycompss.api.task.task``, ``pycompss.api.api.
compss_wait_on``, ``pycompss.util.context.CONTEXT``...), runs each task in a separate process the way
COMPSs workers do (importing the task function by module and name, with ``COMPSS_BINDED_CPUS``,
``COMPSS_NUM_THREADS``, ``CUDA_VISIBLE_DEVICES`` and the CPU affinity set, ``time_out`` by SIGALRM,
cancellation by SIGUSR2), stages FILE_IN / DIRECTORY_IN parameters into per-node sandboxes, and
checks every decorator argument against what the binding and the Java runtime accept (``standin.rules``).
Every decorator argument and API call is logged as JSON lines to ``$PYCOMPSS_STANDIN_LOG``.

Outside ``runcompss.py`` it behaves as the binding's sequential mode: decorators call the function.
"""

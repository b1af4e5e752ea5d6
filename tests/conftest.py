"""Test setup: the repository root on sys.path, so configs/ imports as a package.

A persistent XLA compilation cache in a fresh temporary folder serves the
whole session (and the CLI runs the tests start as subprocesses, which
inherit the environment): many tests compile the same programs, such as the
same small search, and the suite's time is mostly compilation. The folder
starts empty each session and is removed at exit, so no test depends on a
previous run.
"""

import atexit
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _CACHE = tempfile.mkdtemp(prefix="wannflax-test-xla-cache-")
    atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _CACHE
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")

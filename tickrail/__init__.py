"""tickrail: a low-latency, multi-process trading pipeline with a Rust hot path.

The one native extension is :mod:`tickrail._native` (PyO3); the shared-memory library's typed
Python API is :mod:`shm_layout`, and the ``tickrail`` command is :mod:`supervisor`.
"""

__version__ = "0.1.0"

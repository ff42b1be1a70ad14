"""The rules every room shares, each written once: how long a cell may run, and the environment
variables tito sets and reads."""

from __future__ import annotations

# Seconds a cell may run in any headless run: `tito test`, the check cell, nbgrader's Execute and
# `tito grade`. The slowest honest cell of a module (a systems-thinking timing) takes a few seconds.
CELL_SECONDS = 60

# The course folder, when tito runs outside it (otherwise: the nearest folder holding modules.toml).
COURSE_ROOT_ENV = "TITO_COURSE_ROOT"
# Set to EXPORT_SKIP by tito's and nbgrader's headless runs: a notebook's export cell must not touch
# anyone's package there, and the magics stay quiet.
EXPORT_ENV = "TITO_EXPORT"
EXPORT_SKIP = "skip"
# The datasets' folder, for the library's own loaders (Module 08's given code reads the same name:
# the library needs numpy only, so it cannot import this file; tests/test_datasets.py checks they agree).
DATA_ENV = "TINYTORCH_DATA"

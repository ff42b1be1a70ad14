"""The course's datasets for tito's own use (`tito doctor`, the notebooks' demos before Module 08).

The one implementation of the data files (where they are, their checksums, how each format is
read, and the errors that say how to restore a damaged file) is Module 08's given code, exported
into the package as `tinytorch/data/loader.py`: students' tinytorch loads its data without tito.
tito reads that same file from the course folder it is installed in (the starting package, or the
student's own export), by path, so it works whichever `tinytorch` a kernel imports and before
the student has written Module 08: the parts used here (`verify_datasets`, `load_tinydigits`)
are given, not exercises.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

COURSE = Path(__file__).resolve().parents[2]  # tito/student/datasets.py -> the course folder
DATA_MODULE = COURSE / "tinytorch" / "data" / "loader.py"


def data_module(path: Path = DATA_MODULE, name: str = "_tito_course_data") -> ModuleType:
    """The package's data module (tinytorch/data/loader.py), loaded once under a private name."""
    if name not in sys.modules:
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: the course's data code lives there (Module 08's given cells). "
                "Restore it with `git checkout -- tinytorch/data/loader.py`, or run `tito export` after opening Module 08."
            )
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"{path} cannot be loaded as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return sys.modules[name]


PUBLIC = ("DatasetError", "ENV_VAR", "data_root", "load_tinydigits", "verify_datasets")


def __getattr__(name: str):
    """tito.student.datasets.load_tinydigits etc.: read from the data module when first used (PEP 562), so that
    importing tito works in a course whose package has not been exported yet."""
    if name in PUBLIC:
        return getattr(data_module(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

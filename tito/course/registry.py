"""The registry of course modules (`modules.toml`): the one list everything else reads."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

from tito.course.settings import COURSE_ROOT_ENV
from tito.errors import RegistryError

REGISTRY_FILE = "modules.toml"
PACKAGE = "tinytorch"
SOURCE_DIR = "source_solutions"
RELEASE_DIR = "modules"


@dataclass(frozen=True)
class Module:
    number: int
    slug: str
    title: str
    exports_to: str
    names: tuple[str, ...]
    points: int

    @property
    def notebook_name(self) -> str:
        return f"{self.slug}.ipynb"

    def notebook(self, root: Path, folder: str = RELEASE_DIR) -> Path:
        """The module's notebook in `folder` (modules/ for students, source_solutions/ for instructors)."""
        return root / folder / self.slug / self.notebook_name

    def folder_holding(self, root: Path, here: Path) -> str | None:
        """Which of the course's folders (modules/ or source_solutions/) `here` is this module's
        notebook folder in, or None: where a kernel runs tells a student's notebook from the instructor's."""
        return next((name for name in (RELEASE_DIR, SOURCE_DIR) if here == (root / name / self.slug).resolve()), None)

    @property
    def dotted(self) -> str:
        """The import path of the generated file, e.g. `tinytorch.core.tensor`."""
        return ".".join(PurePosixPath(self.exports_to).with_suffix("").parts)


def course_root(start: Path | None = None) -> Path:
    """The course folder: $TITO_COURSE_ROOT, else the nearest folder holding modules.toml.

    Searched upwards from `start` (default: the working directory), then from this package,
    so `tito` works from any sub-folder of the course and from an editable install.
    """
    env = os.environ.get(COURSE_ROOT_ENV)
    if env:
        return Path(env).resolve()
    candidates = [Path(start or Path.cwd()).resolve(), Path(__file__).resolve().parent]
    for base in candidates:
        for folder in (base, *base.parents):
            if (folder / REGISTRY_FILE).is_file():
                return folder
    raise RegistryError(
        f"Could not find the course folder: no {REGISTRY_FILE} in {candidates[0]} or any folder above it. "
        f"Run tito from inside the course folder, or set {COURSE_ROOT_ENV}."
    )


def load_modules(root: Path) -> list[Module]:
    """Read and check modules.toml under `root`."""
    path = root / REGISTRY_FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RegistryError(f"{path} is missing: it lists the course's modules.") from None
    except tomllib.TOMLDecodeError as error:
        raise RegistryError(f"{path} is not valid TOML: {error}") from None
    modules = []
    for index, entry in enumerate(raw.get("module", []), start=1):
        try:
            module = Module(
                number=int(entry["number"]),
                slug=str(entry["slug"]),
                title=str(entry["title"]),
                exports_to=str(entry["exports_to"]),
                names=tuple(entry.get("names", ())),
                points=int(entry["points"]),
            )
        except KeyError as missing:
            raise RegistryError(f"{path}: module entry {index} has no {missing.args[0]!r}.") from None
        _check_target(path, module)
        modules.append(module)
    _check_unique(path, modules)
    return modules


def load_namespaces(root: Path, modules: list[Module]) -> dict[str, tuple[str, ...]]:
    """The [namespaces] of modules.toml: {"nn": ("Module", "Linear", ...), "utils.data": (...)}, each
    name one that a module re-exports, so `tinytorch.nn` and the like are made from the same registry."""
    path = root / REGISTRY_FILE
    raw = tomllib.loads(path.read_text(encoding="utf-8")).get("namespaces", {})
    known = {name for module in modules for name in module.names}
    namespaces = {}
    for namespace, names in raw.items():
        if not all(part.isidentifier() for part in namespace.split(".")) or namespace.split(".")[0] == "core":
            raise RegistryError(f"{path}: namespace {namespace!r} is not a dotted Python name beside tinytorch.core")
        unknown = [name for name in names if name not in known]
        if unknown:
            raise RegistryError(
                f"{path}: namespace {namespace!r} lists {', '.join(unknown)}, which no module's names export: "
                "add each to the names of the module that defines it"
            )
        namespaces[namespace] = tuple(names)
    return namespaces


def find_module(modules: list[Module], key: str) -> Module:
    """Look a module up by number (`1`, `01`) or slug (`01_tensor`)."""
    for module in modules:
        if key in (module.slug, str(module.number), f"{module.number:02d}"):
            return module
    known = ", ".join(m.slug for m in modules)
    raise RegistryError(f"No module {key!r} in {REGISTRY_FILE}; the modules are: {known}.")


def _check_target(path: Path, module: Module) -> None:
    target = PurePosixPath(module.exports_to)
    inside = (
        not target.is_absolute()
        and ".." not in target.parts
        and len(target.parts) >= 2
        and target.parts[0] == PACKAGE
        and target.suffix == ".py"
        and target.name != "__init__.py"
    )
    if not inside:
        raise RegistryError(
            f"{path}: module {module.slug} ({module.notebook(Path(), SOURCE_DIR)}) exports to "
            f"{module.exports_to!r}, which is outside the package: targets must be .py files inside "
            f"{PACKAGE}/, such as {PACKAGE}/core/{module.slug.split('_', 1)[-1]}.py."
        )


def _check_unique(path: Path, modules: list[Module]) -> None:
    for field in ("number", "slug", "exports_to"):
        seen: dict[object, Module] = {}
        for module in modules:
            value = getattr(module, field)
            if value in seen:
                what = "both write" if field == "exports_to" else f"share the {field}"
                raise RegistryError(
                    f"{path}: notebooks {seen[value].notebook_name} and {module.notebook_name} "
                    f"{what} {value!r}; each notebook needs its own."
                )
            seen[value] = module

"""modules.toml: the one list of modules, matching the public API's package layout."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import ROOT

from tito.course.registry import course_root, find_module, load_modules
from tito.errors import RegistryError

API = ROOT / "docs" / "API.md"  # the public API the outside tests check, kept with the course


def test_registry_lists_the_eight_modules_in_order() -> None:
    modules = load_modules(ROOT)
    assert [m.number for m in modules] == list(range(1, 9))
    assert all(m.slug.startswith(f"{m.number:02d}_") for m in modules)


def test_registry_matches_the_package_layout_in_api_md() -> None:
    rows = re.findall(r"^\| (\d\d_\w+) \| `([\w/.]+)` \| (.+?) \|$", API.read_text(), re.M)
    assert len(rows) == 8
    for (slug, path, names), module in zip(rows, load_modules(ROOT), strict=True):
        assert (module.slug, module.exports_to) == (slug, path)
        main = re.findall(r"`(\w+)`", names)
        assert list(module.names[: len(main)]) == main, "API.md's main names come first; more may follow"


def test_the_namespaces_name_only_what_modules_export() -> None:
    from tito.course.registry import load_namespaces

    namespaces = load_namespaces(ROOT, load_modules(ROOT))
    assert set(namespaces) == {"nn", "optim", "optim.lr_scheduler", "utils.data"}  # API.md's namespaces
    assert "StepLR" in namespaces["optim.lr_scheduler"] and "DataLoader" in namespaces["utils.data"]


def test_modules_are_found_by_number_or_slug() -> None:
    modules = load_modules(ROOT)
    assert find_module(modules, "1") is find_module(modules, "01") is find_module(modules, "01_tensor")
    with pytest.raises(RegistryError, match="No module '99'"):
        find_module(modules, "99")


def test_course_root_is_found_from_sub_folders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TITO_COURSE_ROOT", raising=False)
    assert course_root(ROOT / "modules") == ROOT


def test_broken_registry_is_explained(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="modules.toml is missing"):
        load_modules(tmp_path)
    (tmp_path / "modules.toml").write_text("[[module]]\nnumber = 1\n")
    with pytest.raises(RegistryError, match="module entry 1 has no 'slug'"):
        load_modules(tmp_path)
    (tmp_path / "modules.toml").write_text("[[module]\n")
    with pytest.raises(RegistryError, match="not valid TOML"):
        load_modules(tmp_path)

"""The preprocessor the release adds to nbgrader's generate_assignment (named in RELEASE_PIPELINE)."""

from __future__ import annotations

import re

from nbgrader.preprocessors import ClearSolutions

from tito.course.cells import STUB_PLACEHOLDER, cell_exercise, is_code, mark_stubs, stub_message

_DEF = re.compile(r"^(\s*)def\s+(\w+)\s*\(")
_CLASS = re.compile(r"^(\s*)class\s+(\w+)")
_ADD_TO_CLASS = re.compile(r"^\s*@add_to_class\((\w+)\)")


def enclosing_name(lines_above: list[str]) -> str:
    """The qualified name of the function a solution region sits in, e.g. `Tensor.__matmul__`."""
    for index in range(len(lines_above) - 1, -1, -1):
        found = _DEF.match(lines_above[index])
        if not found:
            continue
        indent, name = found.groups()
        for above in reversed(lines_above[:index]):
            decorator = _ADD_TO_CLASS.match(above)
            if decorator:
                return f"{decorator.group(1)}.{name}"
            if not above.strip().startswith("@"):
                break
        for above in reversed(lines_above[:index]):
            owner = _CLASS.match(above)
            if owner and len(owner.group(1)) < len(indent):
                return f"{owner.group(2)}.{name}"
        return name
    return ""


class ClearSolutionsNamingExercises(ClearSolutions):
    """ClearSolutions whose code stub names its exercise and method:
    `raise NotImplementedError("Exercise 01.3: Tensor.__matmul__")`.

    The released cell also lists its stubs' names in `metadata.tito.stubs`, so that a report can
    tell an exercise not attempted (every stub left) from one partly done (some stubs left).
    """

    def _replace_solution_region(self, cell, language):
        if not is_code(cell):
            return super()._replace_solution_region(cell, language)
        lines = cell.source.split("\n")
        number = cell_exercise(cell)
        names = [
            enclosing_name(lines[:index]) or "?"
            for index, line in enumerate(lines)
            if self.begin_solution_delimeter in line
        ]
        replaced = super()._replace_solution_region(cell, language)
        for name in names:
            cell.source = cell.source.replace(STUB_PLACEHOLDER, stub_message(number or "?", name), 1)
        if names:
            mark_stubs(cell, names)
        return replaced

"""Flagging the code in a submission that a human should read: what honest work in this course never needs."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from tito.course.cells import cell_source, describe_cell, is_code, is_locked, python_of


@dataclass
class Flag:
    cell: str
    reason: str


# What honest work in this course never needs; each is worth a human's look.
SUSPICIOUS_NAMES = {
    "get_ipython": "uses get_ipython (the kernel itself)",
    "input_transformers_cleanup": "changes IPython's input transformers",
    "input_transformers_post": "changes IPython's input transformers",
    "builtins": "touches builtins",
    "__builtins__": "touches builtins",
    "__import__": "imports by name",
    "exec": "runs code from a string",
    "eval": "runs code from a string",
    "compile": "compiles code from a string",
    "subprocess": "starts processes",
    "ctypes": "uses ctypes",
    "signal": "handles signals",
    "__file__": "looks for files by its own path",
    "gradebook": "mentions the gradebook",
    "InteractiveShell": "reaches IPython's shell (the kernel itself)",
    "settrace": "traces the running code",
    "setprofile": "traces the running code",
}
SUSPICIOUS_ATTRIBUTES = {
    "modules": "touches sys.modules",
    "system": "runs a shell command",
    "popen": "runs a shell command",
    "fork": "forks",
    "listdir": "lists folders",
    "walk": "lists folders",
    "glob": "lists folders",
    "rglob": "lists folders",
    "parent": "walks up the file system",
    "parents": "walks up the file system",
    "_exit": "ends the kernel",
    "ast_transformers": "changes how IPython rewrites cells",
    "run_cell": "changes how IPython runs cells",
    "_getframe": "reads the callers' frames",
    "excepthook": "changes how errors are reported",
    "displayhook": "changes how results are shown",
}
SUSPICIOUS_TEXT = re.compile(
    r"source_solutions|submitted|autograded|gradebook|\.\./|(?<![\w.])/(?:work|root|home|tmp|etc)\b|tito\.checks|\bsys\.modules\b"
)


def flag_cells(notebook: dict, release: dict, test_names: set[str]) -> list[Flag]:
    """The cells a student wrote or changed (exercises and their own) that touch what honest work never
    needs: the kernel, input transformers, tito, builtins, sys.modules, the tests' names, files outside."""
    flags = []
    cells = notebook["cells"]
    as_released = {cell_source(cell) for cell in release["cells"]}
    for index, cell in enumerate(cells):
        if not is_code(cell) or is_locked(cell) or cell_source(cell) in as_released:
            continue
        reasons = _suspicious(cell_source(cell), test_names)
        if reasons:
            flags.append(Flag(describe_cell(cells, index), "; ".join(reasons)))
    return flags


def _suspicious(source: str, test_names: set[str]) -> list[str]:
    reasons: list[str] = []

    def add(reason: str) -> None:
        if reason not in reasons:
            reasons.append(reason)

    for found in SUSPICIOUS_TEXT.findall(source):
        add(f"mentions {found!r}")
    try:
        tree = ast.parse(python_of(source))
    except SyntaxError:
        tree = None
    if tree is None:
        names = set(re.findall(r"[A-Za-z_]\w*", source))
        attributes = set(re.findall(r"\.([A-Za-z_]\w*)", source))
    else:
        names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        names |= {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in node.names
        }
        names |= {
            node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
        }
        attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
        names |= {
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier()
        }
    for name in sorted(names):
        if name in SUSPICIOUS_NAMES:
            add(SUSPICIOUS_NAMES[name])
        if name == "tito":
            add("imports tito")
        if name in test_names:
            add(f"names the test {name!r}")
    for attribute in sorted(attributes):
        if attribute in SUSPICIOUS_ATTRIBUTES:
            add(SUSPICIOUS_ATTRIBUTES[attribute])
        if attribute in SUSPICIOUS_NAMES and attribute not in ("compile", "exec", "eval"):
            add(SUSPICIOUS_NAMES[attribute])
    return reasons

"""Putting back what the release fixed, before a submission is graded.

Every cell the release made (matched by nbgrader's grade_id, else by the cell's id) gets its
released metadata and tags back; locked cells get their source back (hidden tests included, from
the gradebook); a deleted exercise comes back as its stub (scoring 0), a deleted test as the test.
Cells the student added stay, as plain cells.
"""

from __future__ import annotations

import copy

from tito.course.cells import cell_source, is_locked, nbgrader_meta


def restore_release(notebook: dict, release: dict, locked_sources: dict[str, str]) -> list[str]:
    """Put back, in place, what the release fixed; returns one note per change a human may want to know of."""
    released = release["cells"]
    by_grade_id = {nbgrader_meta(cell)["grade_id"]: cell for cell in released if nbgrader_meta(cell).get("grade_id")}
    by_cell_id = {cell.get("id"): cell for cell in released if cell.get("id")}
    notes: list[str] = []
    retagged: list[str] = []
    matched: dict[int, dict] = {}  # position in `released` -> the student's cell
    kept: list[tuple[int | None, dict]] = []
    for cell in notebook["cells"]:
        grade_id = nbgrader_meta(cell).get("grade_id")
        origin = by_grade_id.get(grade_id) if grade_id else None
        if origin is None and cell.get("id") in by_cell_id and not grade_id:
            origin = by_cell_id[cell["id"]]
        position = next((index for index, candidate in enumerate(released) if candidate is origin), None)
        if position is not None and position in matched:
            position = None  # a copy of a cell already seen: keep it as a plain cell
        if position is None or origin is None:
            plain = copy.deepcopy(cell)
            plain.get("metadata", {}).pop("nbgrader", None)
            kept.append((None, plain))
            continue
        matched[position] = cell
        kept.append((position, _restored(cell, origin, locked_sources, notes, retagged)))
    for position, origin in enumerate(released):
        if position in matched or not nbgrader_meta(origin).get("grade_id"):
            continue
        grade_id = nbgrader_meta(origin)["grade_id"]
        cell = copy.deepcopy(origin)
        if grade_id in locked_sources:
            cell["source"] = locked_sources[grade_id]
        notes.append(
            f"{grade_id} was missing: restored as released"
            + (" (scores 0)" if nbgrader_meta(origin).get("solution") else "")
        )
        after = max(
            (index for index, (placed, _) in enumerate(kept) if placed is not None and placed < position), default=-1
        )
        kept.insert(after + 1, (position, cell))
    notebook["cells"] = [cell for _, cell in kept]
    if retagged:
        notes.append(f"tags restored as released on {len(retagged)} cells: {', '.join(retagged)}")
    return notes


def _restored(cell: dict, origin: dict, locked_sources: dict[str, str], notes: list[str], retagged: list[str]) -> dict:
    name = str(nbgrader_meta(origin).get("grade_id") or origin.get("id"))
    restored = copy.deepcopy(cell)
    if restored.get("metadata") != origin.get("metadata"):
        if restored.get("metadata", {}).get("tags") != origin.get("metadata", {}).get("tags"):
            retagged.append(f"{name} (had {restored.get('metadata', {}).get('tags')})")
        restored["metadata"] = copy.deepcopy(origin["metadata"])
    if origin.get("id"):
        restored["id"] = origin["id"]
    if restored.get("cell_type") != origin.get("cell_type"):
        restored = {**copy.deepcopy(origin), "id": origin.get("id")}
    if is_locked(origin):
        if cell_source(cell) != cell_source(origin):
            notes.append(f"{name} was edited: restored")
        restored["source"] = locked_sources.get(name, cell_source(origin))
    return {key: value for key, value in restored.items() if key != "id" or value}

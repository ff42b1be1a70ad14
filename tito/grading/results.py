"""The grades a class's run leaves for the instructor: the per-exercise CSV, and merging the CSVs of shards."""

from __future__ import annotations

import csv
from pathlib import Path

from tito.course.registry import Module
from tito.errors import GradingError

CSV_COLUMNS = ("student", "module", "exercise", "points", "max_points", "status", "reason")


def reason(detail: str) -> str:
    """The first line of a result's message, as a CSV cell or a report line holds it."""
    return (detail.splitlines() or [""])[0][:300]


def write_csv(path: Path, module: Module, outcomes: list) -> None:
    """One row per student and exercise: points earned and possible, the status and its reason."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for outcome in outcomes:
            for result in outcome.exercises:
                row = [outcome.student, module.slug, result.exercise, f"{result.earned:g}", f"{result.points:g}"]
                writer.writerow([*row, result.status.value, reason(result.detail)])


def merge_csvs(paths: list[Path], destination: Path) -> int:
    """Merge the per-exercise CSVs of several shards into one, sorted; refuses a student graded twice."""
    rows: dict[tuple[str, str], list[list[str]]] = {}
    owner: dict[tuple[str, str], Path] = {}
    for path in paths:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            if tuple(next(reader, ())) != CSV_COLUMNS:
                raise GradingError(f"{path} is not a `tito grade` CSV (its header is not {', '.join(CSV_COLUMNS)})")
            for row in reader:
                key = (row[1], row[0])
                if owner.setdefault(key, path) != path:
                    raise GradingError(
                        f"{row[0]} ({row[1]}) is graded in both {owner[key]} and {path}: were the shards made with the same count?"
                    )
                rows.setdefault(key, []).append(row)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with open(destination, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for key in sorted(rows):
            writer.writerows(rows[key])
    return len(rows)

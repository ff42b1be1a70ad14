"""The grades a class's runs leave for the instructor: each student's outcome as recorded (the
store the CSV and the report are made from, so that they cover every student graded so far, not
only the last run's), the per-exercise CSV, and merging the CSVs of shards."""

from __future__ import annotations

import csv
import json
import unicodedata
from pathlib import Path

from tito.course.registry import Module
from tito.errors import GradingError

CSV_COLUMNS = ("student", "module", "exercise", "points", "max_points", "status", "reason")


OUTCOMES_DIR = "outcomes"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet reads as the start of a formula


def save_outcome(folder: Path, outcome) -> None:
    """Record one student's outcome (not its notebook or page, which have their own files)."""
    path = folder / OUTCOMES_DIR / f"{outcome.student}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = {
        "student": outcome.student,
        "exercises": [{**vars(result), "status": result.status.value} for result in outcome.exercises],
        "scores": {grade_id: list(score) for grade_id, score in outcome.scores.items()},
        "error": outcome.error,
        "notes": outcome.notes,
        "flags": [vars(flag) for flag in outcome.flags],
        "seconds": outcome.seconds,
    }
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(fields, indent=1, ensure_ascii=False), encoding="utf-8")
    partial.replace(path)


def load_outcomes(folder: Path) -> list:
    """Every student's recorded outcome for the module, sorted by student."""
    from tito.course.verdict import ExerciseResult, Status
    from tito.grading.autograde import Outcome
    from tito.grading.flags import Flag

    outcomes = []
    for path in sorted((folder / OUTCOMES_DIR).glob("*.json")):
        fields = json.loads(path.read_text(encoding="utf-8"))
        exercises = [ExerciseResult(**{**result, "status": Status(result["status"])}) for result in fields["exercises"]]
        outcomes.append(
            Outcome(
                fields["student"],
                exercises=exercises,
                scores={grade_id: tuple(score) for grade_id, score in fields["scores"].items()},
                error=fields["error"],
                notes=fields["notes"],
                flags=[Flag(**flag) for flag in fields["flags"]],
                seconds=fields["seconds"],
            )
        )
    return sorted(outcomes, key=lambda outcome: outcome.student)


def printable(text: str) -> str:
    """A line a terminal shows as text: control characters (escape sequences among them) written as
    their code, e.g. `\\x1b`, so a folder name or a heading cannot move the cursor or recolour."""
    return "".join(char if char == "\n" or unicodedata.category(char)[0] != "C" else repr(char)[1:-1] for char in text)


def cell_text(text: str) -> str:
    """A CSV cell a spreadsheet (or `cat` in a terminal) shows as text: control characters as their
    codes, and one that would start a formula gets a leading quote."""
    text = printable(text)
    return "'" + text if text.startswith(FORMULA_START) else text


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
                writer.writerow([cell_text(cell) for cell in [*row, result.status.value, reason(result.detail)]])


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

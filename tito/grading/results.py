"""The grades a class's runs leave for the instructor: each student's outcome as recorded (the
store the CSVs and the report are made from, so that they cover every student graded so far, not
only the last run's), the per-exercise CSV and the per-student (wide) one."""

from __future__ import annotations

import csv
import json
import unicodedata
from pathlib import Path

from tito.course.registry import Module

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
        "restored": outcome.restored,
        "flags": [vars(flag) for flag in outcome.flags],
        "seconds": outcome.seconds,
        "timestamp": outcome.timestamp,
        "seconds_late": outcome.seconds_late,
        "late_penalty": outcome.late_penalty,
        "answers": outcome.answers,
    }
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(fields, indent=1, ensure_ascii=False), encoding="utf-8")
    partial.replace(path)


def load_outcomes(folder: Path) -> list:
    """Every student's recorded outcome for the module, sorted by student."""
    return [load_outcome(path) for path in sorted((folder / OUTCOMES_DIR).glob("*.json"))]


def load_outcome(path: Path):
    """One student's outcome as save_outcome recorded it."""
    from tito.course.verdict import ExerciseResult, Status
    from tito.grading.autograde import Outcome
    from tito.grading.flags import Flag

    fields = json.loads(path.read_text(encoding="utf-8"))
    exercises = [ExerciseResult(**{**result, "status": Status(result["status"])}) for result in fields["exercises"]]
    return Outcome(
        fields["student"],
        exercises=exercises,
        scores={grade_id: tuple(score) for grade_id, score in fields["scores"].items()},
        error=fields["error"],
        notes=fields["notes"],
        restored=fields.get("restored", []),
        flags=[Flag(**flag) for flag in fields["flags"]],
        seconds=fields["seconds"],
        timestamp=fields.get("timestamp", ""),
        seconds_late=fields.get("seconds_late", 0.0),
        late_penalty=fields.get("late_penalty", 0.0),
        answers=fields.get("answers", ""),
    )


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
    return (detail.splitlines() or [""])[0].replace("`", "")[:300]  # the notebook's Markdown code marks, gone


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


def plural(count: int, word: str) -> str:
    """`1 submission`, `6 submissions`."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


WIDE_FIXED = ("student", "total", "max_total", "late_penalty", "submitted_at", "graded")


def write_wide_csv(path: Path, module: Module, outcomes: list, max_total: float) -> None:
    """One row per student: the total, then each exercise's points (a spreadsheet's or an LMS's view)."""
    exercises = [result.exercise for result in outcomes[0].exercises] if outcomes else []
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*WIDE_FIXED, *exercises])
        for outcome in outcomes:
            earned = {result.exercise: f"{result.earned:g}" for result in outcome.exercises}
            fixed = [
                outcome.student,
                f"{outcome.total:g}",
                f"{max_total:g}",
                f"{outcome.late_penalty:g}",
                outcome.timestamp,
                "no" if outcome.error else "yes",
            ]
            writer.writerow([cell_text(cell) for cell in [*fixed, *(earned.get(number, "") for number in exercises)]])

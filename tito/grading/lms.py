"""Grades out of the course: a table of every student's total per module (reports/course.csv) and
the same as a Canvas gradebook import (Student, ID, SIS User ID, SIS Login ID, Section, then one
column per module and a "Points Possible" row, as Canvas's own gradebook export has them), matched
to the students through a roster file of id, name and email."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

from tito.course.registry import Module
from tito.errors import GradingError
from tito.grading.report import needs_a_human
from tito.grading.results import OUTCOMES_DIR, cell_text, load_outcomes

if TYPE_CHECKING:
    from tito.grading.autograde import Outcome

CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
ROSTER_COLUMNS = ("id", "name", "email")  # required; canvas_id, sis_user_id, sis_login_id and section may follow


def module_outcomes(reports: Path, modules: list[Module]) -> dict[str, dict[str, Outcome]]:
    """student -> {module slug: their recorded outcome}, over every module with recorded grades."""
    found: dict[str, dict[str, Outcome]] = {}
    for module in graded_modules(reports, modules):
        for outcome in load_outcomes(reports / module.slug):
            found.setdefault(outcome.student, {})[module.slug] = outcome
    return found


def total(outcome: Outcome | None) -> float | None:
    """A module's total, None where the notebook is missing or could not be graded."""
    return None if outcome is None or outcome.error else outcome.total


def graded_modules(reports: Path, modules: list[Module]) -> list[Module]:
    return [module for module in modules if (reports / module.slug / OUTCOMES_DIR).is_dir()]


def write_course_table(reports: Path, modules: list[Module]) -> Path:
    """reports/course.csv: one row per student, their total in each graded module and overall, and
    what in each module needs a human (the reasons of that module's report)."""
    outcomes = module_outcomes(reports, modules)
    graded = graded_modules(reports, modules)
    maximum = sum(module.points for module in graded)
    path = reports / "course.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *(module.slug for module in graded), "total", "max_total", "needs a human"])
        writer.writerow(["(points possible)", *(f"{m.points:g}" for m in graded), f"{maximum:g}", f"{maximum:g}", ""])
        for student in sorted(outcomes):
            scores = [total(outcomes[student].get(module.slug)) for module in graded]
            cells = ["" if score is None else f"{score:g}" for score in scores]
            reasons = {slug: sorted({why for why, _ in needs_a_human(o)}) for slug, o in outcomes[student].items()}
            attention = "; ".join(f"{slug}: {', '.join(whys)}" for slug, whys in reasons.items() if whys)
            row = [student, *cells, f"{sum(score or 0.0 for score in scores):g}", f"{maximum:g}", attention]
            writer.writerow([cell_text(cell) for cell in row])
    return path


def read_roster(path: Path) -> list[dict[str, str]]:
    """The roster's rows, each with at least id, name and email; a clear error for anything else."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
            header = [name.strip().lower() for name in (rows[0].keys() if rows else [])]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise GradingError(f"the roster {path} could not be read: {error}") from None
    missing = [name for name in ROSTER_COLUMNS if name not in header]
    if not rows or missing:
        raise GradingError(
            f"the roster {path} needs a header row with the columns {', '.join(ROSTER_COLUMNS)} "
            f"(optional: canvas_id, sis_user_id, sis_login_id, section){'; missing: ' + ', '.join(missing) if rows else '; it is empty'}"
        )
    roster = [{key.strip().lower(): (value or "").strip() for key, value in row.items() if key} for row in rows]
    seen: set[str] = set()
    for number, row in enumerate(roster, start=2):
        if not row["id"]:
            raise GradingError(f"the roster {path}, line {number}, has no id")
        if row["id"] in seen:
            raise GradingError(f"the roster {path} lists the id {row['id']!r} twice (line {number})")
        seen.add(row["id"])
    return roster


def write_canvas_csv(reports: Path, modules: list[Module], roster_path: Path) -> tuple[Path, list[str]]:
    """reports/canvas.csv for Canvas's Grades → Import, and warnings (graded students not in the
    roster, students in the roster with no grade yet)."""
    roster = read_roster(roster_path)
    outcomes = module_outcomes(reports, modules)
    graded = graded_modules(reports, modules)
    if not graded:
        raise GradingError(f"no module has been graded yet (nothing in {reports}/<module>/{OUTCOMES_DIR}/)")
    path = reports / "canvas.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*CANVAS_COLUMNS, *(f"Module {m.number:02d}: {m.title}" for m in graded)])
        writer.writerow(["Points Possible", "", "", "", "", *(f"{m.points:g}" for m in graded)])
        for row in roster:
            scores = {m.slug: total(outcomes.get(row["id"], {}).get(m.slug)) for m in graded}
            identity = [row["name"], row.get("canvas_id", ""), row.get("sis_user_id") or row["id"]]
            identity.append(row.get("sis_login_id", ""))  # not the email: many schools' logins differ
            cells = [*identity, row.get("section", "")]
            cells += ["" if scores.get(m.slug) is None else f"{scores[m.slug]:g}" for m in graded]
            writer.writerow([cell_text(cell) for cell in cells])
    listed = {row["id"] for row in roster}
    warnings = [
        f"{student} has grades but is not in the roster: left out" for student in sorted(set(outcomes) - listed)
    ]
    if not any(row.get("canvas_id") or row.get("sis_user_id") for row in roster):
        warnings.append(
            "the roster has no canvas_id or sis_user_id column: Canvas will match each student by SIS User ID, "
            "here their id; if those are not your institution's SIS ids, add a canvas_id column (the ID column "
            "of Canvas's own gradebook export), or Canvas will not find the students"
        )
    for row in roster:
        missing = [m.slug for m in graded if total(outcomes.get(row["id"], {}).get(m.slug)) is None]
        if missing:
            warnings.append(
                f"{row['id']} ({row['name']}) has no grade in {', '.join(missing)}: left blank, which Canvas shows as "
                "not graded (not 0)"
            )
    return path, warnings


def not_final(reports: Path, modules: list[Module]) -> list[str]:
    """A warning per module where someone still needs a human (its report says who and why)."""
    outcomes = module_outcomes(reports, modules)
    attention = sorted({slug for found in outcomes.values() for slug, o in found.items() if needs_a_human(o)})
    return [
        f"some students' {slug} needs a human before these grades are final: reports/{slug}/report.html"
        for slug in attention
    ]

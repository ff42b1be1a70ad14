"""The class report of a `tito grade` run: one HTML page an instructor reads first, and acts on.

Who needs a human comes first, then one row per student (total, each exercise's status, their
feedback page), then per exercise what failed among those who attempted it.
"""

from __future__ import annotations

from collections import Counter
from html import escape
from pathlib import Path
from urllib.parse import quote

from tito.course.registry import Module
from tito.course.verdict import MARKS, Status
from tito.grading.results import plural, reason

ATTEMPTED = (Status.PASSED, Status.FAILED, Status.PARTLY_DONE, Status.TIMED_OUT, Status.ERROR, Status.NOT_RUN)


def needs_a_human(outcome, same_answers: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(why, what) for each thing in one student's grading that a person should look at;
    `same_answers`: the other students whose exercise cells hold exactly the same code."""
    found = []
    if same_answers:
        whose = (
            f"{same_answers[0]}'s submission"
            if len(same_answers) == 1
            else f"the submissions of {', '.join(same_answers[:-1])} and {same_answers[-1]}"
        )
        found.append(("same code", f"every exercise cell as in {whose}"))
    if outcome.error:
        found.append(("not graded", outcome.error))
    else:
        for result in outcome.exercises:
            if result.status is Status.ERROR:
                found.append(("error", f"Exercise {result.exercise}: {reason(result.detail)}"))
            elif result.status is Status.TIMED_OUT:
                found.append(("timed out", f"Exercise {result.exercise}: {reason(result.detail)}"))
        if outcome.exercises and all(result.status is Status.NOT_ATTEMPTED for result in outcome.exercises):
            found.append(
                (
                    "nothing attempted",
                    "every exercise still holds its stubs: the released copy, or an unsaved notebook?",
                )
            )
    found += [("flagged", f"{flag.cell}: {flag.reason}") for flag in outcome.flags]
    found += [("restored", note) for note in outcome.restored]
    if outcome.seconds_late > 0:
        found.append(("late", f"submitted {outcome.seconds_late / 3600:.1f} h after the due date"))
    return found


def same_answers(outcomes: list) -> dict[str, tuple[str, ...]]:
    """student -> the other students who wrote exactly the same code in the exercise cells."""
    by_digest: dict[str, list[str]] = {}
    for outcome in outcomes:
        if outcome.answers:
            by_digest.setdefault(outcome.answers, []).append(outcome.student)
    return {
        student: tuple(other for other in group if other != student)
        for group in by_digest.values()
        if len(group) > 1
        for student in group
    }


def feedback_link(module: Module, student: str) -> str:
    """The student's feedback page, relative to reports/<module>/report.html."""
    return f"../../feedback/{quote(student)}/{module.slug}/{module.slug}.html"


def write_report(folder: Path, module: Module, outcomes: list, max_total: float) -> Path:
    """report.html and totals.png beside it, over every student recorded for the module."""
    folder.mkdir(parents=True, exist_ok=True)
    graded = [outcome for outcome in outcomes if not outcome.error]
    _histogram(folder / "totals.png", [outcome.total for outcome in graded], max_total, module)
    exercises = [grade.exercise for grade in outcomes[0].exercises] if outcomes else []
    twins = same_answers(outcomes)
    attention = {outcome.student: needs_a_human(outcome, twins.get(outcome.student, ())) for outcome in outcomes}
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{escape(module.slug)}: class report</title>
<style>body{{font-family:sans-serif;max-width:72em;margin:2em auto}} td,th{{padding:.2em .5em;text-align:left;border-bottom:1px solid #ddd}}
.passed{{color:#1a7f37}} .failed,.error,.timed-out{{color:#b42318}} .partly-done{{color:#9a6700}} .not-attempted,.not-run{{color:#777}}</style>
</head><body>
<h1>Module {module.number:02d} ({escape(module.title)}): class report</h1>
<p>{escape(_summary(outcomes, graded, max_total))}. Grades: <a href="grades.csv">grades.csv</a> (one row per exercise),
<a href="grades-wide.csv">grades-wide.csv</a> (one row per student). Logs of each run: <code>logs/</code>.</p>
<h2>Needs a human ({sum(bool(found) for found in attention.values())})</h2>
{_attention(module, outcomes, attention, max_total)}
<h2>Students</h2>
{_students(module, outcomes, attention, exercises, max_total)}
<h2>Exercises</h2>
{_exercises(graded, exercises)}
<h2>Totals</h2>
<img src="totals.png" alt="histogram of the graded submissions' totals">
</body></html>
"""
    path = folder / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def _summary(outcomes: list, graded: list, max_total: float) -> str:
    if not graded:
        return f"{plural(len(outcomes), 'student')}, none graded"
    mean = sum(outcome.total for outcome in graded) / len(graded)
    return f"{plural(len(outcomes), 'student')}, {len(graded)} graded; mean {mean:.2f} of {max_total:g}"


def _attention(module: Module, outcomes: list, attention: dict, max_total: float) -> str:
    items = [
        f"<li><b><a href='{escape(feedback_link(module, o.student))}'>{escape(o.student)}</a></b> "
        f"({'not graded' if o.error else f'{o.total:g}/{max_total:g}'}): "
        + "; ".join(f"<i>{escape(why)}</i>: {escape(what)}" for why, what in attention[o.student])
        + "</li>"
        for o in outcomes
        if attention[o.student]
    ]
    return f"<ul>{''.join(items)}</ul>" if items else "<p>no one: every submission graded cleanly.</p>"


def _status_cell(result) -> str:
    name = result.status.value.replace(" ", "-")
    tip = escape(f"{result.status}: {reason(result.detail)}" if result.detail else str(result.status), quote=True)
    return f"<td class='{name}' title='{tip}'>{MARKS[result.status]} {result.earned:g}</td>"


def _students(module: Module, outcomes: list, attention: dict, exercises: list[str], max_total: float) -> str:
    titles = {result.exercise: result.title for o in outcomes for result in o.exercises}
    head = "".join(
        f"<th title='{escape(titles.get(number, ''), quote=True)}'>{escape(number)}<br><small>{escape(titles.get(number, ''))}</small></th>"
        for number in exercises
    )
    rows = []
    for o in outcomes:
        cells = {result.exercise: _status_cell(result) for result in o.exercises}
        reasons = ", ".join(sorted({why for why, _ in attention[o.student]}))
        rows.append(
            f"<tr><td><a href='{escape(feedback_link(module, o.student))}'>{escape(o.student)}</a></td>"
            f"<td>{'—' if o.error else f'{o.total:g}'} / {max_total:g}</td>"
            + "".join(cells.get(number, "<td></td>") for number in exercises)
            + f"<td>{escape(reasons)}</td></tr>"
        )
    legend = " · ".join(f"{mark} {status}" for status, mark in MARKS.items())
    return (
        f"<p>Each exercise's mark and points; hover for the reason. {escape(legend)}.</p>"
        f"<table><tr><th>student</th><th>total</th>{head}<th>needs a human</th></tr>{''.join(rows)}</table>"
    )


def _exercises(graded: list, exercises: list[str]) -> str:
    rows = []
    for number in exercises:
        grades = [grade for outcome in graded for grade in outcome.exercises if grade.exercise == number]
        maximum = grades[0].points if grades else 0
        mean = sum(grade.earned for grade in grades) / len(grades) if grades else 0.0
        counts = Counter(grade.status for grade in grades)
        failures = Counter(
            f"{grade.status}: {reason(grade.detail)}"
            for grade in grades
            if grade.status in ATTEMPTED and grade.status is not Status.PASSED
        )
        common = f"{failures.most_common(1)[0][0]} ({failures.most_common(1)[0][1]}×)" if failures else ""
        stopped = counts[Status.TIMED_OUT] + counts[Status.ERROR] + counts[Status.NOT_RUN]
        rows.append(
            f"<tr><td>{escape(number)} {escape(grades[0].title if grades else '')}</td><td>{mean:.2f} / {maximum:g}</td><td>{counts[Status.PASSED]}</td>"
            f"<td>{counts[Status.FAILED]}</td><td>{counts[Status.PARTLY_DONE]}</td><td>{counts[Status.NOT_ATTEMPTED]}</td>"
            f"<td>{stopped}</td><td>{escape(common)}</td></tr>"
        )
    return (
        "<table><tr><th>exercise</th><th>mean</th><th>passed</th><th>failed</th><th>partly done</th>"
        "<th>not attempted</th><th>error or timed out</th><th>most common failure among those who attempted it</th></tr>"
        f"{''.join(rows)}</table>"
    )


def _histogram(path: Path, totals: list[float], max_total: float, module: Module) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    figure, axes = plt.subplots(figsize=(6, 3))
    axes.hist(totals, bins=[x - 0.5 for x in range(int(max_total) + 2)], color="#4c72b0")
    axes.set_xlabel(f"total points (of {max_total:g})")
    axes.set_ylabel("students")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title(f"Module {module.number:02d}: {plural(len(totals), 'graded submission')}")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)

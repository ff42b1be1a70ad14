"""The class report of a `tito grade` run: one HTML page an instructor reads first."""

from __future__ import annotations

from collections import Counter
from html import escape
from pathlib import Path

from tito.course.registry import Module
from tito.course.verdict import Status
from tito.grading.results import reason


def write_report(folder: Path, module: Module, outcomes: list, max_total: float) -> Path:
    """report.html (per exercise: mean, passed, most common failure; totals; failures; flags) and totals.png beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    _histogram(folder / "totals.png", [outcome.total for outcome in outcomes if not outcome.error], max_total, module)
    graded = [outcome for outcome in outcomes if not outcome.error]
    exercises = [grade.exercise for grade in outcomes[0].exercises] if outcomes else []
    rows = []
    for number in exercises:
        grades = [grade for outcome in graded for grade in outcome.exercises if grade.exercise == number]
        maximum = grades[0].points if grades else 0
        mean = sum(grade.earned for grade in grades) / len(grades) if grades else 0.0
        passed = sum(grade.status is Status.PASSED for grade in grades)
        failures = Counter(
            f"{grade.status}: {reason(grade.detail)}" for grade in grades if grade.status is not Status.PASSED
        )
        common = f"{failures.most_common(1)[0][0]} ({failures.most_common(1)[0][1]}×)" if failures else ""
        rows.append(
            f"<tr><td>{escape(number)}</td><td>{mean:.2f} / {maximum:g}</td><td>{passed} of {len(grades)}</td><td>{escape(common)}</td></tr>"
        )
    failed = (
        "".join(f"<li><b>{escape(o.student)}</b>: {escape(o.error)}</li>" for o in outcomes if o.error)
        or "<li>none</li>"
    )
    flagged = (
        "".join(
            f"<li><b>{escape(o.student)}</b> ({o.total:g}/{max_total:g}): {escape(flag.cell)}: {escape(flag.reason)}</li>"
            for o in outcomes
            for flag in o.flags
        )
        or "<li>none</li>"
    )
    events = (
        "".join(f"<li><b>{escape(o.student)}</b>: {escape(note)}</li>" for o in outcomes for note in o.notes)
        or "<li>none</li>"
    )
    totals = [o.total for o in graded]
    summary = (
        f"{len(outcomes)} submissions, {len(graded)} graded; mean {sum(totals) / len(totals):.2f} of {max_total:g}"
        if totals
        else f"{len(outcomes)} submissions, none graded"
    )
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{escape(module.slug)}: class report</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}} td,th{{padding:.2em .6em;text-align:left;border-bottom:1px solid #ddd}}</style>
</head><body>
<h1>Module {module.number:02d} ({escape(module.title)}): class report</h1>
<p>{escape(summary)}. Per-exercise grades: <a href="grades.csv">grades.csv</a>. Feedback pages: <code>feedback/&lt;student&gt;/{escape(module.slug)}/</code>.</p>
<h2>Exercises</h2>
<table><tr><th>exercise</th><th>mean</th><th>passed</th><th>most common failure</th></tr>{"".join(rows)}</table>
<h2>Totals</h2>
<img src="totals.png" alt="histogram of the graded submissions' totals">
<h2>Submissions that could not be graded</h2><ul>{failed}</ul>
<h2>Flagged for a human to read</h2><ul>{flagged}</ul>
<h2>What grading restored or stopped</h2><ul>{events}</ul>
</body></html>
"""
    path = folder / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def _histogram(path: Path, totals: list[float], max_total: float, module: Module) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3))
    axes.hist(totals, bins=[x - 0.5 for x in range(int(max_total) + 2)], color="#4c72b0")
    axes.set_xlabel(f"total points (of {max_total:g})")
    axes.set_ylabel("students")
    axes.set_title(f"Module {module.number:02d}: {len(totals)} graded submissions")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)

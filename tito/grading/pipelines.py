"""The autograde and feedback pipelines, declared once: nbgrader_config.py gives the stock ones to
`nbgrader autograde` and `nbgrader generate_feedback`; `tito grade` runs the confined one.

The two autograde pipelines differ in one step only, the one that runs the student's code:
- stock (`nbgrader autograde`): ExecuteWithEarlierModules, nbgrader's Execute whose kernel imports
  the reference of the earlier modules; no sandbox, no limits beyond nbgrader's cell timeout;
- confined (`tito grade`): GuardedExecute, which also confines the kernel (tito.grading.sandbox),
  runs cell by cell under the limits, and records what it stopped.
"""

from __future__ import annotations

# Before grading: clear outputs, turn copy-pasted locked cells into plain ones, restore the
# kernelspec and every locked or deleted test cell (the gradebook's source, hidden tests included).
SANITIZE = [
    "nbgrader.preprocessors.ClearOutput",
    "tito.grading.preprocessors.DeduplicateIdsDroppingEmptied",  # instead of nbgrader's DeduplicateIds
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]

STOCK_EXECUTE = "tito.grading.preprocessors.ExecuteWithEarlierModules"
CONFINED_EXECUTE = "tito.grading.preprocessors.GuardedExecute"


def autograde(execute: str) -> list[str]:
    """nbgrader's own autograde pipeline, with `execute` as the step that runs the notebook."""
    return [
        execute,
        "nbgrader.preprocessors.IgnorePattern",
        "nbconvert.preprocessors.ClearMetadataPreprocessor",  # disabled unless configured, as in nbgrader
        "nbgrader.preprocessors.LimitOutput",
        "nbgrader.preprocessors.SaveAutoGrades",
        "nbgrader.preprocessors.AssignLatePenalties",
        "nbgrader.preprocessors.CheckCellMetadata",
    ]


# Feedback never shows the hidden tests: neither their source, nor the lines a traceback quotes,
# nor lines a student's cell printed from the kernel's memory of them.
FEEDBACK = [
    "nbgrader.preprocessors.GetGrades",
    "tito.grading.preprocessors.NameExercisesInSummary",
    "tito.grading.preprocessors.ShortenTracebacksOfHiddenTests",
    "tito.grading.preprocessors.RemoveHiddenTestsFromOutputs",
    "tito.grading.preprocessors.MarkDemonstrationsNotRun",  # after the scrub: its note is the grader's, not output
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
FEEDBACK_EXPORTER = "tito.grading.preprocessors.FeedbackExporter"
# The exporter's page: nbgrader's feedback template with exercises named and no MathJax (tito/grading/templates/).
FEEDBACK_TEMPLATE = "tito_feedback"

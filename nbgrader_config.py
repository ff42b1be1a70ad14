"""nbgrader's settings for this course. nbgrader reads this file only from the folder it runs in,
so run nbgrader (or, better, tito) from here: elsewhere it silently makes an empty gradebook."""

import os

from tito.notebooks import CELL_TIMEOUT

c = get_config()  # noqa: F821 - provided by nbgrader's config loader
course_root = os.path.dirname(os.path.abspath(__file__))

# Our folders, in nbgrader's terms; the gradebook lives at the course root whatever the cwd.
c.CourseDirectory.root = course_root
c.CourseDirectory.source_directory = "source_solutions"
c.CourseDirectory.release_directory = "modules"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(course_root, "gradebook.db")
c.CourseDirectory.course_id = "tinytorch"

# Stubs raise NotImplementedError("Exercise 01.3: Tensor.__matmul__"); `{exercise}` is filled in per region.
c.ClearSolutions.code_stub = {"python": 'raise NotImplementedError("{exercise}")'}
c.GenerateAssignment.preprocessors = [
    "nbgrader.preprocessors.IncludeHeaderFooter",
    "nbgrader.preprocessors.InstantiateTests",
    "nbgrader.preprocessors.LockCells",
    "tito.nbgrader_ext.ClearSolutionsNamingExercises",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.CheckCellMetadata",
    "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.SaveCells",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbgrader.preprocessors.ClearMarkScheme",
    "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# Autograde: restore deleted or edited test cells, and survive copy-pasted locked cells.
c.OverwriteCells.add_missing_cells = True
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "tito.nbgrader_ext.DeduplicateIdsDroppingEmptied",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# The kernels may import the reference of the modules before the one graded, never its own.
c.Autograde.autograde_preprocessors = [
    "tito.nbgrader_ext.ExecuteWithEarlierModules",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.ExecuteWithEarlierModules.course_root = course_root
# Per cell; the slowest honest cell of a module (the systems-thinking timings) takes a few seconds.
c.Execute.timeout = CELL_TIMEOUT
c.Execute.interrupt_on_timeout = True

# Feedback never shows the hidden tests: neither their source nor the lines a traceback quotes.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "tito.nbgrader_ext.ShortenTracebacksOfHiddenTests",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

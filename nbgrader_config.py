"""nbgrader's settings for this course. nbgrader reads this file only from the folder it runs in,
so run nbgrader (or, better, tito) from here: elsewhere it silently makes an empty gradebook."""

import os

from tito.course.settings import CELL_SECONDS

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

# Per cell, as in every headless run of the course; a cell past it is interrupted.
c.Execute.timeout = CELL_SECONDS
c.Execute.interrupt_on_timeout = True

# instructors only
# (The students' copy of the course leaves out this part, and the grader it names.)
from tito.build.release import NBGRADER_CODE_STUB, RELEASE_PIPELINE
from tito.grading import pipelines

# Release: stubs that name their exercise, e.g. NotImplementedError("Exercise 01.3: Tensor.__matmul__").
c.ClearSolutions.code_stub = NBGRADER_CODE_STUB
c.GenerateAssignment.preprocessors = RELEASE_PIPELINE

# Autograde: restore deleted or edited test cells, survive copy-pasted locked cells; the kernels may
# import the reference of the modules before the one graded, never its own (`tito grade` runs the
# confined pipeline instead; tito.grading.pipelines says how the two differ).
c.OverwriteCells.add_missing_cells = True
c.Autograde.sanitize_preprocessors = pipelines.SANITIZE
c.Autograde.autograde_preprocessors = pipelines.autograde(pipelines.STOCK_EXECUTE)
c.ExecuteWithEarlierModules.course_root = course_root

# Feedback never shows the hidden tests: neither their source nor the lines a traceback quotes.
c.GenerateFeedback.preprocessors = pipelines.FEEDBACK
# end instructors only

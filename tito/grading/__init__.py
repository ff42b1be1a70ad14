"""What grades a class: `tito grade` over nbgrader, its sandbox, and what it writes for the instructor.

Instructors only: the students' copy of the course does not carry this package.
"""

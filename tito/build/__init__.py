"""What builds the course: notebooks -> the generated package (export), source_solutions/ -> modules/
(release, through nbgrader), and the students' copy."""

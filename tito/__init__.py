"""tito, the TinyTorch course's tools. Three products, a folder each (CONTRIBUTING.md has the map):

- tito.student: what students run, in their notebooks and from a terminal;
- tito.build: what builds the course (export, release, the students' copy);
- tito.grading: what grades a class (instructors only; not in the students' copy);

and tito.course, what all three read (the registry, a notebook's cells, an exercise's verdict).
"""

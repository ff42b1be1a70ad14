"""tito: the TinyTorch course's tool package (export, notebook magic, running, grading, datasets, CLI)."""

"""What both 1986 milestones share: which tinytorch they run on, a check that it is complete, live
progress, the plots, the verdict and the saved results. One copy, imported by both notebooks
(and their paired scripts); the training itself is written out in each notebook."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import matplotlib
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

# One BLAS thread, however the milestone is started (a terminal, JupyterLab, tito): this network's
# matrices are small, and on a busy 2-core machine OpenBLAS's own threads oversubscribe the cores and
# make training several times slower. The verdict prints what was used.
BLAS_THREADS = 1
threadpool_limits(limits=BLAS_THREADS, user_api="blas")

HERE = Path(__file__).resolve().parent
TRAINED = HERE / "trained"
IN_NOTEBOOK = "ipykernel" in sys.modules
if not IN_NOTEBOOK:
    matplotlib.use("Agg")  # a terminal run saves its figures as files instead of opening windows
import matplotlib.pyplot as plt  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402  (an ipywidgets bar in a notebook, a text bar in a terminal)

STUB_LINE = re.compile(r'raise NotImplementedError\("Exercise (\d\d)\.(\d+): ([\w.]+)"\)')


class LibraryIncomplete(Exception):
    """A piece of tinytorch the milestone needs is missing or still a stub; the message says which exercise to finish."""


def which_tinytorch() -> str:
    """Where `tinytorch` is imported from, in words."""
    import tinytorch

    location = Path(tinytorch.__file__).resolve().parent
    if ".tito" in location.parts:
        return f"the course's reference solution ({location}), not your own export"
    return f"your own export ({location})"


def first_unfinished() -> str | None:
    """The first exercise, in teaching order, that is still a stub in the tinytorch being imported, and
    whether it is not written yet or written in its notebook but not exported; None when no stub is left."""
    import tinytorch

    package = Path(tinytorch.__file__).resolve().parent
    found = [
        (int(m), int(e), name) for path in package.rglob("*.py") for m, e, name in STUB_LINE.findall(path.read_text())
    ]
    stubs = sorted(found, key=lambda stub: stub[:2])  # teaching order; within an exercise, the file's
    if not stubs:
        return None
    module, exercise, name = stubs[0]
    number = f"{module:02d}.{exercise}"
    notebooks = sorted((package.parent / "modules").glob(f"{module:02d}_*/{module:02d}_*.ipynb"))
    if notebooks and _written_in(notebooks[0], f"ex_{module:02d}_{exercise}", f"Exercise {number}: {name}"):
        shown = notebooks[0].relative_to(package.parent)
        return (
            f"Exercise {number} ({name}) is done in {shown} but not exported yet: save that notebook and run its last "
            "cell (or tito export), then run this again"
        )
    return f"finish Module {module:02d}, Exercise {number} ({name}), export it (tito export), then run this again"


def _written_in(notebook: Path, grade_id: str, stub: str) -> bool:
    """Whether the exercise cell `grade_id` of a saved notebook no longer holds that stub."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return False
    for cell in cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return stub not in "".join(cell.get("source", ""))
    return False


def blas() -> str:
    """The BLAS library and the threads it uses, for the verdict."""
    libraries = [info for info in threadpool_info() if info.get("user_api") == "blas"]
    if not libraries:
        return "no BLAS library found"
    return ", ".join(f"{info['internal_api']} with {info['num_threads']} thread(s)" for info in libraries)


def check_library() -> None:
    """Run each piece the milestone uses once, on tiny inputs, in module order, and name the first exercise still to do."""
    try:
        import tinytorch as tt
        from tinytorch.core.layers import manual_seed

        needed = [
            "Tensor",
            "ReLU",
            "Linear",
            "Sequential",
            "CrossEntropyLoss",
            "no_grad",
            "SGD",
            "Trainer",
            "accuracy",
            "TensorDataset",
            "DataLoader",
            "load_tinydigits",
            "load_mnist",
        ]
        missing = [name for name in needed if not hasattr(tt, name)]
        if missing:
            raise LibraryIncomplete(
                f"tinytorch has no {', '.join(missing)} yet: export the modules that define them (tito export), then run this again"
            )
        x = tt.Tensor(np.ones((2, 4), dtype=np.float32))  # 01
        (x @ x.T + 1.0).sum(axis=0).reshape(2, 1)[0].exp()
        tt.ReLU()(x - 0.5)  # 02
        manual_seed(0)
        model = tt.Sequential(tt.Linear(4, 3), tt.ReLU(), tt.Linear(3, 2))  # 03
        loss = tt.CrossEntropyLoss()(model(x), [0, 1])  # 04
        loss.backward()  # 05
        tt.SGD(model.parameters(), lr=0.1, momentum=0.9).step()  # 06
        loader = tt.DataLoader(
            tt.TensorDataset(np.ones((4, 4), dtype=np.float32), np.array([0, 1, 0, 1])),
            batch_size=2,
            shuffle=True,
            seed=0,
        )
        trainer = tt.Trainer(model, tt.CrossEntropyLoss(), tt.SGD(model.parameters(), lr=0.1))  # 07, 08
        trainer.fit(loader, epochs=1, val_batches=loader)
        with tt.no_grad():
            tt.accuracy(model(x), [0, 1])
    except LibraryIncomplete:
        raise
    except NotImplementedError as error:
        raise LibraryIncomplete(
            first_unfinished() or f"finish {error}, export it (tito export), then run this again"
        ) from None
    except Exception as error:
        raise LibraryIncomplete(
            f"a small test run fails with {type(error).__name__}: {error}. `tito test NN` checks the module it names."
        ) from None


class LiveProgress:
    """A Trainer callback: one progress bar over all steps, with the loss, and a line per epoch."""

    def __init__(self, epochs: int, steps_per_epoch: int) -> None:
        self.epochs, self.steps_per_epoch = epochs, steps_per_epoch

    def on_fit_start(self, trainer) -> None:
        self.bar = tqdm(
            total=self.epochs * self.steps_per_epoch, desc="epoch 1", unit="step", file=sys.stdout, mininterval=0.2
        )
        self.start = time.perf_counter()

    def on_step_end(self, trainer, step: int, loss: float) -> None:
        self.bar.update(1)
        if step % 25 == 0:
            self.bar.set_postfix(loss=f"{loss:.3f}", refresh=False)

    def on_epoch_end(self, trainer, epoch: int, history: dict) -> None:
        self.bar.set_description(f"epoch {min(epoch + 1, self.epochs)}")
        self.bar.write(
            f"epoch {epoch}: loss {history['loss'][-1]:.3f}, train accuracy {history['accuracy'][-1]:.1%}, "
            f"test accuracy {history['val_accuracy'][-1]:.1%}  ({time.perf_counter() - self.start:.1f} s)"
        )

    def on_fit_end(self, trainer, history: dict) -> None:
        self.bar.close()


def show(figure, name: str) -> None:
    """Inline in a notebook; saved as trained/<name>.png from a terminal."""
    if IN_NOTEBOOK:
        plt.show()
    else:
        TRAINED.mkdir(exist_ok=True)
        figure.savefig(TRAINED / f"{name}.png", dpi=90, bbox_inches="tight")
        plt.close(figure)
        print(f"  figure: {TRAINED / f'{name}.png'}")


def plot_history(history: dict, steps_per_epoch: int, name: str) -> None:
    """Training loss per step and per epoch; train and test accuracy per epoch."""
    epochs = np.arange(1, len(history["loss"]) + 1)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.5))
    left.plot(
        np.arange(1, len(history["step_loss"]) + 1) / steps_per_epoch,
        history["step_loss"],
        alpha=0.35,
        label="per step",
    )
    left.plot(epochs, history["loss"], "o-", label="per epoch (mean)")
    left.axhline(np.log(10), color="gray", linestyle=":", label="ln 10, chance")
    left.set_yscale("log")
    left.set_xlabel("epoch")
    left.set_ylabel("training loss")
    left.legend(loc="lower left")  # the curves fall from the chance line at the top left
    right.plot(epochs, history["accuracy"], "o-", label="train")
    right.plot(epochs, history["val_accuracy"], "o-", label="test")
    right.set_xlabel("epoch")
    right.set_ylabel("accuracy")
    right.legend(loc="lower right")
    right.grid(alpha=0.3)
    figure.suptitle("Learning curves")
    show(figure, f"{name}-learning-curves")


def plot_hidden_weights(weight: np.ndarray, image_shape: tuple, name: str, columns: int = 16) -> None:
    """Each hidden unit's input weights (a column of the first Linear's weight) as an image."""
    units = weight.shape[1]
    rows = -(-units // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 0.7, rows * 0.7 + 0.6))
    for unit, axis in enumerate(np.atleast_1d(axes).flat):
        axis.axis("off")
        if unit < units:
            limit = np.abs(weight[:, unit]).max()  # each unit on its own scale, so faint units show their pattern too
            axis.imshow(weight[:, unit].reshape(image_shape), cmap="RdBu_r", vmin=-limit, vmax=limit)
    figure.suptitle(
        f"The input weights of all {units} hidden units (red: the pixel excites the unit, blue: inhibits; each on its own scale)"
    )
    show(figure, f"{name}-hidden-units")


def predictions(model, images: np.ndarray) -> np.ndarray:
    import tinytorch as tt

    with tt.no_grad():
        return model(tt.Tensor(images.reshape(len(images), -1))).data.argmax(axis=1)


def plot_confusion_and_mistakes(predicted: np.ndarray, labels: np.ndarray, images: np.ndarray, name: str) -> None:
    """The confusion matrix, then up to 16 misclassified test images with their predictions."""
    confusion = np.zeros((10, 10), dtype=int)
    np.add.at(confusion, (labels, predicted), 1)
    figure, axis = plt.subplots(figsize=(5.5, 4.5))
    shown = axis.imshow(confusion, cmap="Blues")
    for true in range(10):
        for guess in range(10):
            if confusion[true, guess]:
                axis.text(
                    guess,
                    true,
                    confusion[true, guess],
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if confusion[true, guess] > confusion.max() / 2 else "black",
                )
    axis.set_xlabel("predicted")
    axis.set_ylabel("true digit")
    axis.set_xticks(range(10))
    axis.set_yticks(range(10))
    figure.colorbar(shown)
    axis.set_title("Confusion matrix (test set)")
    show(figure, f"{name}-confusion")
    misclassified = np.flatnonzero(predicted != labels)
    wrong = misclassified[:16]
    if not len(wrong):
        return
    columns = min(8, len(wrong))
    rows = -(-len(wrong) // columns)  # as many rows as the mistakes fill
    figure, axes = plt.subplots(rows, columns, figsize=(1.25 * columns, 1.5 * rows + 0.4), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, index in zip(axes.flat, wrong, strict=False):
        axis.imshow(images[index], cmap="gray_r")
        axis.set_title(f"{labels[index]} read as {predicted[index]}", fontsize=8)
    figure.suptitle(f"{len(misclassified):,} of {len(labels):,} test images misclassified; the first {len(wrong)}")
    show(figure, f"{name}-mistakes")


def where_time_goes(tt, images: np.ndarray, labels: np.ndarray, name: str) -> dict:
    """A training step of this tinytorch against the numpy floor and the course's reference, and its profile per
    operation (tito.student.profile); the figure shown like the others."""
    from tito.student.profile import where_time_goes as measure

    course = HERE.parent.parent
    return measure(tt, images, labels, batch=64, course=course, show=lambda figure: show(figure, f"{name}-speed"))


def verdict(name: str, figures: dict, targets: dict) -> bool:
    """Print each figure against its target and save them to trained/<name>.json; True when all are met."""
    met = True
    for key, (relation, bound) in targets.items():
        value = figures[key]
        ok = value >= bound if relation == ">=" else value < bound
        met &= ok
        print(f"{'✓' if ok else '✗'} {key}: {value:.4g} (target {relation} {bound})")
    TRAINED.mkdir(exist_ok=True)
    (TRAINED / f"{name}.json").write_text(
        json.dumps({**figures, "targets_met": bool(met), "tinytorch": which_tinytorch()}, indent=1)
    )
    print(f"BLAS: {blas()} (this milestone sets {BLAS_THREADS}; the machine has {os.cpu_count()} cores)")
    print("Verdict:", "every target met." if met else "some targets missed: see above.")
    return met

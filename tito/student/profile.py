"""Where a training step's time goes, measured on the student's own tinytorch: the step against the
same step written by hand in numpy (the floor of this design), and a profile per operation.

The profile hooks into the places every step passes: each backward rule of GRAD_RULES (an
operation's forward runs inside its rule's `apply`, a node's gradient in its `backward`), the
engine (`Tensor.backward`, the `topological_order` it calls) and `Tensor.__init__`. Times are
exclusive: a fused loss's forward does not count the operations inside it again. The hooks cost
about a microsecond per call: step times are measured without them, and the profile takes their
cost (measured on a rule that does nothing) out of each row.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

NETWORK = "784 -> 128 -> ReLU -> 10, SGD momentum 0.9, float32"
BACKWARD_PHASE = "backward"
ENGINE = "Tensor.backward"
PHASE_REST = {  # what a phase spends outside every hooked call
    "forward": "the rest (Linear, Sequential, each operation's dispatch)",
    "backward": "Tensor.backward's own loop",
    "data": "DataLoader: the next batch",
    "zero_grad": "optimizer.zero_grad",
    "step": "optimizer.step",
}


class OperationProfile:
    """Seconds and calls per (phase, operation), each call's own time without the hooked calls inside it;
    `rows()` takes out what the hooks themselves cost (measured by `hook_cost`)."""

    def __init__(self, tensor_class: Any) -> None:
        self.tensor_class = tensor_class
        self.seconds: defaultdict[tuple[str, str], float] = defaultdict(float)
        self.calls: Counter[tuple[str, str]] = Counter()
        self.children: Counter[tuple[str, str]] = Counter()  # hooked calls made from inside each key's calls
        self.steps = 0
        self._phases = ["other"]
        self._open = [("other", "outside every phase")]  # the keys of the open calls and phases
        self._inner = [0.0]  # per open call: the time of the hooked calls inside it

    def timed(self, name: str, function: Callable, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        key = (self._phases[-1], name)
        self._open.append(key)
        self._inner.append(0.0)
        try:
            return function(*args, **kwargs)
        finally:
            elapsed = time.perf_counter() - start
            self.seconds[key] += elapsed - self._inner.pop()
            self.calls[key] += 1
            self._open.pop()
            self.children[self._open[-1]] += 1
            self._inner[-1] += elapsed

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time a part of the step; what it spends outside the hooked calls is its PHASE_REST."""
        key = (name, PHASE_REST[name])
        self._phases.append(name)
        self._open.append(key)
        start = time.perf_counter()
        self._inner.append(0.0)
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            self.seconds[key] += elapsed - self._inner.pop()
            self._inner[-1] += elapsed
            self._open.pop()
            self._phases.pop()

    @contextmanager
    def hooks(self) -> Iterator[None]:
        """Install the timing hooks into the library `tensor_class` belongs to, and take them out after."""
        Tensor = self.tensor_class
        rules = sys.modules[Tensor.__module__].GRAD_RULES
        saved_rules = dict(rules)
        engine = Tensor.backward
        namespace = getattr(engine, "__globals__", {})
        order = namespace.get("topological_order")
        init = Tensor.__init__
        profile = self
        try:
            for name, rule in saved_rules.items():
                rules[name] = timed_rule(self, name, rule)

            def backward(tensor, *args, **kwargs):
                with profile.phase(BACKWARD_PHASE):
                    return profile.timed(ENGINE, engine, tensor, *args, **kwargs)

            def initialise(tensor, *args, **kwargs):
                return profile.timed("Tensor.__init__", init, tensor, *args, **kwargs)

            Tensor.backward, Tensor.__init__ = backward, initialise
            if callable(order):
                namespace["topological_order"] = lambda root: profile.timed("topological_order", order, root)
            yield
        finally:
            rules.clear()
            rules.update(saved_rules)
            Tensor.backward, Tensor.__init__ = engine, init
            if callable(order):
                namespace["topological_order"] = order

    def rows(self) -> list[tuple[str, str, float, float]]:
        """(phase, what, µs per step, calls per step), the slowest first, the hooks' own cost taken out; the
        engine's call and its phase's own time are one row."""
        inside, around = hook_cost()
        merged: defaultdict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
        for key, seconds in self.seconds.items():
            phase, name = key
            if name == ENGINE:
                name = PHASE_REST[BACKWARD_PHASE]
            merged[(phase, name)][0] += max(seconds - self.calls[key] * inside - self.children[key] * around, 0.0)
            merged[(phase, name)][1] += self.calls[key]
        steps = max(self.steps, 1)
        found = [(phase, name, s / steps * 1e6, n / steps) for (phase, name), (s, n) in merged.items() if s > 0]
        return sorted(found, key=lambda row: -row[2])


@functools.cache
def hook_cost() -> tuple[float, float]:
    """Seconds a hooked call adds to its own time and to its caller's, measured on a rule that does nothing
    (the median of 7 rounds)."""

    class Nothing:
        @classmethod
        def apply(cls, forward, *args, **kwargs):
            return forward(*args, **kwargs)

    probe = OperationProfile(None)
    hooked: Any = timed_rule(probe, "probe", Nothing)
    calls, insides, arounds = 2000, [], []
    for _round in range(7):
        probe.seconds.clear()
        start = time.perf_counter()
        for _count in range(calls):
            hooked.apply(tuple)
        with_hooks = time.perf_counter() - start
        start = time.perf_counter()
        for _count in range(calls):
            Nothing.apply(tuple)
        bare = time.perf_counter() - start
        inside = max(probe.seconds[("other", "probe")] - bare, 0.0) / calls
        insides.append(inside)
        arounds.append(max((with_hooks - bare) / calls - inside, 0.0))
    return float(np.median(insides)), float(np.median(arounds))


def timed_rule(profile: OperationProfile, name: str, rule: type) -> type:
    """`rule` with its forward (`apply`) and its nodes' `backward` timed under the operation's name."""

    class Timed(rule):
        @classmethod
        def apply(cls, forward, *args, **kwargs):
            label = name if name != "*" else getattr(forward, "__qualname__", "an operation without a rule")
            return profile.timed(label, super().apply, forward, *args, **kwargs)

        def backward(self, grad):
            return profile.timed(name, super().backward, grad)

    Timed.__name__, Timed.__qualname__ = rule.__name__, rule.__qualname__
    return Timed


def profile_steps(tensor_class: Any, step: Callable[..., Any], steps: int = 50) -> OperationProfile:
    """Run `step` `steps` times with the hooks in. A TrainingStep times its phases; any other step is forward
    and backward (its Tensor.backward)."""
    step()  # warm up
    profile = OperationProfile(tensor_class)
    with profile.hooks():
        for _count in range(steps):
            if isinstance(step, TrainingStep):
                step(profile)
            else:
                with profile.phase("forward"):  # and whatever else the step does outside Tensor.backward
                    step()
    profile.steps = steps
    return profile


class TrainingStep:
    """One training step of the milestone's network on tinytorch `tt`: the next batch of a DataLoader,
    zero_grad, forward, cross-entropy, backward, an SGD step; the batches go round the epoch."""

    def __init__(self, tt: Any, images: np.ndarray, labels: np.ndarray, batch: int) -> None:
        tt.manual_seed(0)
        self.model = tt.Sequential(tt.Linear(784, 128), tt.ReLU(), tt.Linear(128, 10))
        self.optimizer = tt.SGD(self.model.parameters(), lr=0.05, momentum=0.9)
        self.loss_fn = tt.CrossEntropyLoss()
        dataset = tt.TensorDataset(images.reshape(len(images), -1), labels)
        self.loader = tt.DataLoader(dataset, batch_size=batch, shuffle=True, seed=0, drop_last=True)
        self.batches = iter(self.loader)

    def next_batch(self) -> Any:
        try:
            return next(self.batches)
        except StopIteration:
            self.batches = iter(self.loader)
            return next(self.batches)

    def __call__(self, profile: OperationProfile | None = None) -> None:
        model, loss_fn, optimizer = self.model, self.loss_fn, self.optimizer
        if profile is None:
            xb, yb = self.next_batch()
            optimizer.zero_grad()
            loss_fn(model(xb), yb).backward()
            optimizer.step()
            return
        with profile.phase("data"):
            xb, yb = self.next_batch()
        with profile.phase("zero_grad"):
            optimizer.zero_grad()
        with profile.phase("forward"):
            loss = loss_fn(model(xb), yb)
        loss.backward()  # its own phase, as every Tensor.backward under the hooks
        with profile.phase("step"):
            optimizer.step()


def numpy_step(images: np.ndarray, labels: np.ndarray, batch: int) -> Callable[[], None]:
    """The same training step written by hand in numpy, shuffled batches included: the floor of this design."""
    rng = np.random.default_rng(0)
    X = images.reshape(len(images), -1).astype(np.float32, copy=False)
    W1 = (rng.normal(size=(784, 128)) * np.sqrt(2 / 784)).astype(np.float32)
    W2 = (rng.normal(size=(128, 10)) * np.sqrt(2 / 128)).astype(np.float32)
    b1, b2 = np.zeros(128, np.float32), np.zeros(10, np.float32)
    params = [W1, b1, W2, b2]
    velocity = [np.zeros_like(p) for p in params]
    order = rng.permutation(len(X))
    position = [0]

    def step() -> None:
        start = position[0] if position[0] + batch <= len(X) else 0
        position[0] = start + batch
        index = order[start : start + batch]
        xb, yb = X[index], labels[index]
        hidden = xb @ W1 + b1
        active = np.maximum(hidden, 0)
        logits = active @ W2 + b2
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        rows = np.arange(len(yb))
        float(-np.log(p[rows, yb]).mean())  # the loss, which every training step reports
        p[rows, yb] -= 1
        p /= len(yb)
        d_hidden = (p @ W2.T) * (hidden > 0)
        grads = [xb.T @ d_hidden, d_hidden.sum(axis=0), active.T @ p, p.sum(axis=0)]
        for param, v, g in zip(params, velocity, grads, strict=True):
            v *= 0.9
            v += g
            param -= 0.05 * v

    return step


def interleaved_medians(contenders: dict[str, Callable[[], Any]], steps: int, rounds: int) -> dict[str, float]:
    """Each contender's median µs per step over `rounds` of `steps` steps, the contenders taking turns in every
    round (a busy machine slows them alike), after one warm-up round. An overflow (at batch 1 this learning
    rate diverges) is timed, not warned about."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    with np.errstate(all="ignore"):
        for round_ in range(rounds + 1):
            for name, step in contenders.items():
                start = time.perf_counter()
                for _count in range(steps):
                    step()
                if round_:
                    times[name].append((time.perf_counter() - start) / steps * 1e6)
    return {name: float(np.median(found)) for name, found in times.items()}


def step_times(tt: Any, images: np.ndarray, labels: np.ndarray, batch: int, steps: int = 50, rounds: int = 5) -> dict:
    """µs per step of tinytorch `tt` and of the numpy floor, interleaved in this process."""
    return interleaved_medians(
        {"tinytorch": TrainingStep(tt, images, labels, batch), "numpy": numpy_step(images, labels, batch)},
        steps,
        rounds,
    )


def is_reference_package(course: Path, tt: Any) -> bool:
    """Whether the tinytorch `tt` is the course's reference export (where `tito export --reference` puts it)."""
    from tito.build.export import package_root
    from tito.course.registry import SOURCE_DIR

    return Path(tt.__file__).resolve().is_relative_to(package_root(course, SOURCE_DIR).resolve())


def reference_step_times(course: Path, batch: int) -> dict | None:
    """The same measurement on the course's reference solution, in a process of its own (it is also called
    tinytorch), right now; None in a students' copy, which has no reference."""
    from tito.build.export import export, package_root
    from tito.course.registry import SOURCE_DIR

    if not (course / SOURCE_DIR).is_dir():
        return None
    export(course, SOURCE_DIR)
    reference = package_root(course, SOURCE_DIR)
    env = {**os.environ, "PYTHONPATH": str(reference), "OPENBLAS_NUM_THREADS": "1"}
    result = subprocess.run(  # from the reference's folder: `python -m` puts the working folder first on the path
        [sys.executable, "-m", "tito.student.profile", str(batch)],
        cwd=reference,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode:
        raise RuntimeError(f"measuring the reference failed: {result.stderr.strip()[-2000:]}")
    tinytorch_us, numpy_us = map(float, result.stdout.split())
    return {"tinytorch": tinytorch_us, "numpy": numpy_us}


def where_time_goes(
    tt: Any,
    images: np.ndarray,
    labels: np.ndarray,
    batch: int = 64,
    course: Path | None = None,
    top: int = 12,
    show: Callable[[Any], None] | None = None,
) -> dict:
    """Print and plot a training step of `tt` against the numpy floor (and the course's reference when
    `course` has one), and the profile of its operations; `show(figure)` shows the plot (default plt.show).
    Returns the figures."""
    import matplotlib.pyplot as plt
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        found = step_times(tt, images, labels, batch)
        profile = profile_steps(tt.Tensor, TrainingStep(tt, images, labels, batch), steps=50)
    yours, floor = found["tinytorch"], found["numpy"]
    is_reference = course is not None and is_reference_package(course, tt)
    reference = None if course is None or is_reference else reference_step_times(course, batch)
    mine = "the reference (running here)" if is_reference else "your tinytorch"
    print(f"One training step, {NETWORK}, batch {batch}, 1 BLAS thread (median of 5 rounds of 50 steps, interleaved):")
    print(f"  {mine:<40}{yours:8,.0f} µs   {yours / floor:.2f}× the floor")
    if reference is not None:
        ratio = reference["tinytorch"] / reference["numpy"]
        print(
            f"  {'the course reference (its own process)':<40}{reference['tinytorch']:8,.0f} µs   {ratio:.2f}× its floor"
        )
    print(f"  {'the floor: the same step in numpy':<40}{floor:8,.0f} µs")
    print(
        "  (the floor draws the same shuffled batch and makes the same SGD update, with no Python bookkeeping; the\n"
        "  course's reference, where the course has one, is measured beside yours; far above 1.5× of the floor, the rows\n"
        "  below say where your library does more work than it needs to)\n"
    )
    rows = print_profile(profile, top)
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 0.3 * len(rows) + 1.8), width_ratios=(1, 2.2))
    label = "the reference" if is_reference else "yours"
    bars = {label: yours, "the floor": floor}
    if reference is not None:
        bars = {label: yours, "reference": reference["tinytorch"] * floor / reference["numpy"], "the floor": floor}
    colours = {label: "tab:blue", "reference": "tab:green", "the floor": "tab:gray"}
    drawn = left.bar(list(bars), list(bars.values()), color=[colours[name] for name in bars])
    left.bar_label(drawn, labels=[f"{value:,.0f} µs\n{value / floor:.2f}×" for value in bars.values()])
    left.set_ylabel("µs per step" + (" (the reference scaled to this floor)" if reference is not None else ""))
    left.set_ylim(0, max(bars.values()) * 1.25)
    left.set_title(f"a training step, batch {batch}")
    plot_profile(right, rows)
    figure.tight_layout()
    show(figure) if show is not None else plt.show()
    return {"step_us": yours, "floor_us": floor, "ratio": yours / floor, "profile": profile.rows()}


#: The rows named in the course's text: shown whatever their rank, so that a student can see them small.
ALWAYS_SHOWN = ("topological_order", "Tensor.__init__", PHASE_REST[BACKWARD_PHASE])


def print_profile(profile: OperationProfile, top: int = 12) -> list[tuple[str, str, float, float]]:
    """The `top` rows of the profile, and the rows of ALWAYS_SHOWN, as a table; the rest summed up in one line.
    Returns the rows shown."""
    rows = profile.rows()
    total = sum(row[2] for row in rows)
    shown = [row for rank, row in enumerate(rows) if rank < top or row[1] in ALWAYS_SHOWN]
    rest = [row for row in rows if row not in shown]
    print(
        f"Where the time goes: {total:,.0f} µs per profiled step (each call timed without the calls inside it, "
        "the timers' own cost taken out)"
    )
    print(
        f"  {'share':>6} {'µs/step':>8} {'calls/step':>10}  phase: operation   (no calls: a part of the step, not one call)"
    )
    for phase, name, micros, calls in shown:
        print(f"  {micros / total:6.1%} {micros:8.1f} {f'{calls:.0f}' if calls else '':>10}  {phase}: {name}")
    if rest:
        print(
            f"  {sum(r[2] for r in rest) / total:6.1%} {sum(r[2] for r in rest):8.1f} {'':>10}  the other {len(rest)}: "
            + ", ".join(f"{phase} {name}" for phase, name, *_ in rest)
        )
    return shown


def plot_profile(axes: Any, rows: list[tuple[str, str, float, float]]) -> None:
    """Rows of the profile (print_profile's) as horizontal bars, µs per step each: forward blue, backward orange,
    the rest of the step (data, optimizer) grey."""
    colours = {"forward": "tab:blue", "backward": "tab:orange"}
    axes.barh(
        [f"{phase}: {name}" for phase, name, _, _ in rows[::-1]],
        [micros for _, _, micros, _ in rows[::-1]],
        color=[colours.get(phase, "tab:gray") for phase, *_ in rows[::-1]],
    )
    axes.set_xlabel("µs per step")
    axes.set_title("where it goes: forward blue, backward orange, data and optimizer grey")

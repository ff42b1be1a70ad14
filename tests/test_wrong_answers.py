"""Each module's visible tests catch plausible wrong answers with the hint that names the mistake.

Each wrong answer is the reference solution of one exercise with one plausible mistake made in
it (an in-place change, a missing keepdims, numpy's repr, an overflowing exp, ...), pasted into
the released student notebook. Wrong answers to exercises that no other test uses share a run
(one per exercise); those that later tests build on (01.1's Tensor, 03.1's named_parameters,
03.4's Linear, ...) get runs of their own. A new module adds its wrong answers here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import exercise_sources

from tito.cells import exercise_id, nbgrader_meta
from tito.export import read_notebook
from tito.notebooks import ExerciseResult, exercise_results, run_notebook
from tito.registry import RELEASE_DIR, SOURCE_DIR, Module, find_module, load_modules

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class WrongAnswer:
    run: str  # wrong answers with the same run share one notebook run
    exercise: str  # "01.2"
    mistake: str  # what the student got wrong, for the test id
    old: str  # text of the reference solution ...
    new: str  # ... replaced by this
    expected: tuple[str, ...]  # fragments the reported failure must contain

    @property
    def id(self) -> str:
        return f"{self.exercise}-{self.mistake}"

    @property
    def module(self) -> Module:
        return find_module(load_modules(ROOT), self.exercise.split(".")[0])


WRONG_ANSWERS = [
    WrongAnswer("init-float64", "01.1", "keeps-float64", "array = array.astype(np.float32, copy=False)", "pass",
                ("Tensor([[1.0, 2.0], [3.0, 4.0]]).data: got dtype float64; expected float32", "convert with .astype(np.float32)")),
    WrongAnswer("init-shared", "01.1", "shares-the-array", "array = np.array(data)", "array = np.asarray(data)",
                ("Tensor(array) after the array changed: values differ", "copy the data with np.array")),
    WrongAnswer("init-message", "01.1", "error-without-dtype", "but got dtype {array.dtype}: ", "but got other data: ",
                ("Tensor([1, 2], requires_grad=True): the ValueError says", "it should mention ['int64']")),
    WrongAnswer("A", "01.2", "rsub-reversed", "return Tensor(_unwrap(other) - self.data)", "return Tensor(self.data - _unwrap(other))",
                ("1 - a: values differ", "1 - a calls a.__rsub__(1), which must compute other - self")),
    WrongAnswer("B", "01.2", "in-place-sub", "return Tensor(self.data - _unwrap(other))", "self.data -= _unwrap(other)\n    return Tensor(self.data)",
                ("a - b: changed its input a in place (a[0, 0] was", "not `self.data -= x`")),
    WrongAnswer("C", "01.2", "floor-division", "return Tensor(self.data / _unwrap(other))", "return Tensor(self.data // _unwrap(other))",
                ("a / b: values differ", "a // b would round down")),
    WrongAnswer("A", "01.3", "pow-multiplies", "return Tensor(self.data ** exponent)", "return Tensor(self.data * exponent)",
                ("x ** 2: values differ", "x ** 2 is x * x, not 2 * x")),
    WrongAnswer("B", "01.3", "in-place-neg", "return Tensor(-self.data)", "self.data *= -1\n    return Tensor(self.data)",
                ("-x: changed its input x in place",)),
    WrongAnswer("A", "01.4", "vector-inner-axis", "right_inner = right.shape[0] if right.ndim == 1 else right.shape[-2]", "right_inner = right.shape[-2]",
                ("a @ v  (shapes (2, 3) @ (3,)): raised IndexError: tuple index out of range",)),
    WrongAnswer("B", "01.4", "elementwise-product", "product = left @ right", "product = left * right",
                ("a @ b  (shapes (2, 3) @ (3, 4)): raised ValueError", "* would be elementwise")),
    WrongAnswer("C", "01.4", "rmatmul-reversed", "return Tensor(other) @ self", "return self @ Tensor(other)",
                ("np.ones((4, 2)) @ a: raised ValueError", "other comes first")),
    WrongAnswer("A", "01.5", "keepdims-ignored", "return Tensor(self.data.sum(axis=axis, keepdims=keepdims))", "return Tensor(self.data.sum(axis=axis))",
                ("x.sum(axis=1, keepdims=True): got shape (2,); expected (2, 1)", "keepdims=True keeps the reduced axis")),
    WrongAnswer("B", "01.5", "axis-ignored", "return Tensor(self.data.sum(axis=axis, keepdims=keepdims))", "return Tensor(np.sum(self.data))",
                ("x.sum(axis=0): got shape (); expected (3,)", "axis=0 adds down each column")),
    WrongAnswer("A", "01.6", "max-from-zero", "return Tensor(self.data.max(axis=axis, keepdims=keepdims))",
                "return Tensor(np.maximum(self.data, 0).max(axis=axis, keepdims=keepdims))",
                ("x.max(axis=0): values differ", "whose largest is -2, not 0")),
    WrongAnswer("B", "01.6", "mean-over-rows-only", "return Tensor(self.data.mean(axis=axis, keepdims=keepdims))",
                "return Tensor(self.data.sum(axis=axis, keepdims=keepdims) / len(self.data))",
                ("x.mean() for x of shape (2, 3): values differ", "the mean of all 6 elements")),
    WrongAnswer("A", "01.7", "tuple-not-unpacked", "    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):\n        shape = tuple(shape[0])\n", "",
                ("x.reshape((3, 2)): raised TypeError", "a single tuple argument is the whole shape: unpack it")),
    WrongAnswer("B", "01.7", "numpy-message", "    except ValueError:", "    except IndexError:",
                ("x.reshape(4, 2) for x of shape (2, 3): the ValueError says", "it should mention ['(2, 3)', '(4, 2)']")),
    WrongAnswer("C", "01.7", "in-place-reshape", "    return Tensor(reshaped)", "    self.data = reshaped\n    return self",
                ("x.reshape(3, 2): changed its input x in place",)),
    WrongAnswer("A", "01.8", "reshape-for-transpose", "transposed = self.data.transpose(axes if axes else None)", "transposed = self.data.reshape(self.shape[::-1])",
                ("x.transpose() for x of shape (2, 3): values differ", "a reshape to (3, 2) would keep the wrong order")),
    WrongAnswer("B", "01.8", "pytorch-swap", "transposed = self.data.transpose(axes if axes else None)",
                "transposed = self.data.swapaxes(*axes) if len(axes) == 2 else self.data.transpose(axes if axes else None)",
                ("x.transpose(0, 1): got shape (3, 2); expected (2, 3)", "not a swap as in PyTorch")),
    WrongAnswer("A", "01.9", "returns-ndarray", "    return Tensor(self.data[index])", "    return self.data[index]",
                ("x[1] for x of shape (4, 3): got a ndarray; expected a Tensor",)),
    WrongAnswer("B", "01.9", "tuple-as-array", "index = tuple(_unwrap(part) for part in index)", "index = np.array([_unwrap(part) for part in index])",
                ("x[1, 2] for x of shape (4, 3): got shape (2, 3); expected ()", "a tuple has one index per axis")),
    WrongAnswer("A", "01.10", "log10", "return Tensor(np.log(self.data))", "return Tensor(np.log10(self.data))",
                ("x.log() for positive x: values differ", "the natural logarithm (base e)")),
    WrongAnswer("B", "01.10", "in-place-exp", "return Tensor(np.exp(self.data))", "return Tensor(np.exp(self.data, out=self.data))",
                ("x.exp(): changed its input x in place",)),
    WrongAnswer("A", "01.11", "numpy-repr-inside", 'values = np.array2string(self.data, separator=", ", prefix="Tensor(", threshold=summarize_above, edgeitems=3)',
                "values = repr(self.data)",
                ("repr(Tensor([1.5, 2.0, 3.0])): got 'Tensor(array([1.5, 2. , 3. ], dtype=float32))'; expected 'Tensor([1.5, 2. , 3. ])'",)),
    WrongAnswer("B", "01.11", "rows-not-aligned", 'prefix="Tensor(", ', "",
                ("repr(Tensor([[1, 2], [3, 4]])): got", "pass prefix='Tensor(' to np.array2string")),
    WrongAnswer("C", "01.11", "never-summarized", "threshold=summarize_above, ", "",
                ("repr of a (3, 7) tensor (21 elements): got", "more than 20 elements: summarize")),
    # Module 02
    WrongAnswer("A", "02.1", "np-max-reduces", "np.maximum(x.data, 0)", "np.max(x.data, 0)",
                ("ReLU()(x) for x of shape (2, 3): got shape (3,); expected (2, 3)", "np.max would reduce")),
    WrongAnswer("B", "02.1", "float-zero", "np.maximum(x.data, 0)", "np.maximum(x.data, 0.0)",
                ("ReLU()(Tensor([-3, 0, 4])): got dtype float32; expected int64", "compare with the integer 0")),
    WrongAnswer("C", "02.1", "in-place", "np.maximum(x.data, 0)", "np.maximum(x.data, 0, out=x.data)",
                ("ReLU()(x) for x of shape (2, 3): changed its input x in place",)),
    WrongAnswer("A", "02.2", "slope-not-used", "self.negative_slope * x.data", "0.01 * x.data",
                ("LeakyReLU(negative_slope=0.2)(x): values differ", "use the stored self.negative_slope")),
    WrongAnswer("B", "02.2", "negatives-zeroed", "self.negative_slope * x.data", "0 * x.data",
                ("LeakyReLU()(x): values differ", "negatives are multiplied by 0.01 (not set to 0")),
    WrongAnswer("C", "02.2", "slope-not-a-float", "self.negative_slope = float(negative_slope)", "self.negative_slope = negative_slope",
                ("repr(LeakyReLU(1)): got 'LeakyReLU(negative_slope=1)'", "store the slope as a float")),
    WrongAnswer("A", "02.3", "naive-formula", "        z = np.exp(-np.abs(x.data))\n        return Tensor(np.where(x.data >= 0, 1 / (1 + z), z / (1 + z)))",
                "        return Tensor(1 / (1 + np.exp(-x.data)))",
                ("Sigmoid()(Tensor([-1000.0, 0.0, 1000.0])): numpy warned: overflow encountered in exp", "exponentiate only -|x|")),
    WrongAnswer("B", "02.3", "branches-swapped", "np.where(x.data >= 0, 1 / (1 + z), z / (1 + z))", "np.where(x.data >= 0, z / (1 + z), 1 / (1 + z))",
                ("Sigmoid()(x) for x of shape (2, 3): values differ", "sigmoid(0) is 0.5")),
    WrongAnswer("A", "02.4", "overflowing-formula", "np.tanh(x.data)", "(np.exp(x.data) - np.exp(-x.data)) / (np.exp(x.data) + np.exp(-x.data))",
                ("Tanh()(Tensor([-1000, -50, 0, 50, 1000])): numpy warned: overflow encountered in exp", "use np.tanh, or 2 * sigmoid(2x) - 1")),
    WrongAnswer("B", "02.4", "sigmoid-instead", "np.tanh(x.data)", "1 / (1 + np.exp(-x.data))",
                ("Tanh()(x) for x of shape (2, 3): values differ", "sigmoid would give 0.5 at 0")),
    WrongAnswer("A", "02.5", "no-max-subtracted", "shifted = x.data - x.data.max(axis=self.axis, keepdims=True)", "shifted = x.data",
                ("Softmax()(Tensor([[1000, 0], [-1000, 0], [1000, 1000]])): numpy warned: overflow encountered in exp", "subtract each row's maximum")),
    WrongAnswer("B", "02.5", "sum-without-keepdims", "exponentials.sum(axis=self.axis, keepdims=True)", "exponentials.sum(axis=self.axis)",
                ("Softmax()(x) for x of shape (2, 3): raised ValueError", "keepdims=True")),
    WrongAnswer("C", "02.5", "axis-ignored", "x.data.max(axis=self.axis, keepdims=True)\n        exponentials = np.exp(shifted)\n        return Tensor(exponentials / exponentials.sum(axis=self.axis, keepdims=True))",
                "x.data.max(axis=-1, keepdims=True)\n        exponentials = np.exp(shifted)\n        return Tensor(exponentials / exponentials.sum(axis=-1, keepdims=True))",
                ("Softmax(axis=0)(x): values differ", "use self.axis")),
    WrongAnswer("A", "02.6", "log-of-softmax", "return Tensor(shifted - np.log(np.exp(shifted).sum(axis=self.axis, keepdims=True)))",
                "return Tensor(np.log(np.exp(shifted) / np.exp(shifted).sum(axis=self.axis, keepdims=True)))",
                ("LogSoftmax()(Tensor([1000.0, 0.0])): numpy warned: divide by zero encountered in log", "log(softmax) gives -inf here")),
    WrongAnswer("B", "02.6", "max-not-subtracted", "shifted = x.data - x.data.max(axis=self.axis, keepdims=True)", "shifted = x.data",
                ("LogSoftmax()(Tensor([1000.0, 0.0])): numpy warned: overflow encountered in exp", "subtract the max and use log-sum-exp")),
    # Module 03
    WrongAnswer("03.1A", "03.1", "shared-listed-twice", "            if id(parameter) not in listed:\n                listed.add(id(parameter))\n                found.append((full_name, parameter))",
                "            found.append((full_name, parameter))",
                ("Tree(shared).named_parameters() names: got ['left.weight', 'gain', 'right.weight', 'right_again.weight']", "only once")),
    WrongAnswer("03.1B", "03.1", "no-prefix", '[(f"{name}.{inner}", parameter)', "[(inner, parameter)",
                ("Tree(shared).named_parameters() names: got ['weight', 'gain', 'weight']", "get the attribute and a dot in front")),
    WrongAnswer("03.1C", "03.1", "constants-included", "elif isinstance(value, Tensor) and value.requires_grad:", "elif isinstance(value, Tensor):",
                ("Scaled(2.0).named_parameters() names: got ['weight', 'constant']", "only Tensors with requires_grad=True")),
    WrongAnswer("A", "03.2", "not-recursive", "    for _, child in self.named_children():\n        child.train(mode)\n", "",
                ("after tree.eval(): training flags of tree, left, right are [False, True, True]", "set them on every sub-module")),
    WrongAnswer("B", "03.2", "eval-returns-none", "    return self.train(False)", "    self.train(False)",
                ("tree.eval(): got a NoneType; expected a Tree", "train and eval return self")),
    WrongAnswer("C", "03.2", "grads-zeroed-not-forgotten", "        parameter.grad = None", "        parameter.grad = Tensor(np.zeros(parameter.shape))",
                ("these parameters still have a .grad",)),
    WrongAnswer("A", "03.3", "state-not-copied", "parameter.data.copy() for name", "parameter.data for name",
                ("a saved state after the parameter changed: values differ", "save a copy of each array")),
    WrongAnswer("B", "03.3", "data-replaced", "        parameter.data[...] = arrays[name]", "        parameter.data = arrays[name]",
                ("tree.gain.data after load_state_dict has dtype float64", "keeps it float32")),
    WrongAnswer("C", "03.3", "copies-before-checking", "            )\n    for name, parameter in parameters.items():\n        parameter.data[...] = arrays[name]",
                "            )\n        parameter.data[...] = arrays[name]",
                ("a failed load_state_dict changed ['left.weight', 'gain']", "check every key and shape before copying anything")),
    WrongAnswer("03.4A", "03.4", "fan-out-scale", "scale = np.sqrt(2.0 / in_features)", "scale = np.sqrt(2.0 / out_features)",
                ("Linear(3, 2, rng=default_rng(7)).weight: values differ", "np.sqrt(2.0 / in_features)")),
    WrongAnswer("03.4B", "03.4", "transposed-weight", "size=(in_features, out_features)", "size=(out_features, in_features)",
                ("Linear(3, 2, rng=default_rng(7)).weight: got shape (2, 3); expected (3, 2)",)),
    WrongAnswer("03.4C", "03.4", "rng-ignored", "rng = default_generator() if rng is None else rng", "rng = default_generator()",
                ("Linear(3, 2, rng=default_rng(7)).weight: values differ", "from the rng given")),
    WrongAnswer("03.5A", "03.5", "weight-transposed", "output = x @ self.weight", "output = x @ self.weight.T",
                ("Linear(3, 2) on x of shape (4, 3): raised ValueError", "no transpose")),
    WrongAnswer("03.5B", "03.5", "bias-none-added", "return output if self.bias is None else output + self.bias", "return output + self.bias",
                ("Linear(3, 2, bias=False) on x: raised TypeError", "self.bias is None")),
    WrongAnswer("03.5C", "03.5", "no-shape-check", "    if x.ndim == 0 or x.shape[-1] != self.in_features:", "    if False:",
                ("Linear(3, 2) on x of shape (4, 5): the ValueError says", "it should mention ['Linear(in_features=3, out_features=2, bias=True)']")),
    WrongAnswer("03.6A", "03.6", "slice-gives-list", "            return Sequential(*layers[index])", "            return layers[index]",
                ("net[1:]: got a list; expected a Sequential", "a slice gives a new Sequential")),
    WrongAnswer("03.6B", "03.6", "last-layer-only", "        for layer in self:\n            x = layer(x)\n        return x", "        return list(self)[-1](x) if len(self) else x",
                ("on x of shape (5, 4): raised ValueError", "each layer's output is the next one's input")),
    WrongAnswer("03.6C", "03.6", "named-layerN", "setattr(self, str(index), layer)", 'setattr(self, f"layer{index}", layer)',
                ("len(Sequential of 3 layers): got 0; expected 3", "count the attributes named '0'")),
    WrongAnswer("A", "03.7", "nested-not-indented", 'repr(layer).replace("\\n", "\\n  ")', "repr(layer)",
                ("repr of a Sequential inside a Sequential: got", "indent the later lines")),
    WrongAnswer("B", "03.7", "no-closing-line", 'return "Sequential(\\n" + "\\n".join(lines) + "\\n)"', 'return "Sequential(\\n" + "\\n".join(lines) + ")"',
                ("repr(Sequential(Linear(64, 32), ReLU(), Linear(32, 10))): got", "then ')' on its own line")),
    # Module 04
    WrongAnswer("A", "04.1", "no-shape-check", '        check_same_shape("MSELoss", prediction, target)\n', "",
                ("MSELoss() of a (4, 1) prediction and a (4,) target: returned without an error; expected a ValueError",)),
    WrongAnswer("B", "04.1", "sum-not-mean", "return ((prediction - target) ** 2).mean()", "return ((prediction - target) ** 2).sum()",
                ("MSELoss()(prediction, target) of shape (2, 2): values differ", "the mean over all 4 elements")),
    WrongAnswer("C", "04.1", "target-not-wrapped", "        target = as_tensor(target)\n", "",
                ("MSELoss() with a list as the target: raised AttributeError", "as_tensor(target)")),
    WrongAnswer("A", "04.2", "columns-not-rows", "np.eye(num_classes, dtype=np.float32)[labels]", "np.eye(num_classes, dtype=np.float32)[:, labels]",
                ("one_hot([2, 0, 1], 3): values differ", "row i has a 1 in column labels[i]")),
    WrongAnswer("B", "04.2", "no-range-check", "    if outside.any():\n", "    if False:\n",
                ("one_hot([0, 3], 3): raised IndexError", "expected a ValueError")),
    WrongAnswer("C", "04.2", "classes-from-labels", "np.eye(num_classes, dtype=np.float32)[labels]", "np.eye(labels.max() + 1, dtype=np.float32)[labels]",
                ("one_hot([0, 2], 4): got shape (2, 3); expected (2, 4)", "num_classes columns")),
    WrongAnswer("04.3A", "04.3", "floats-accepted", "    if not np.issubdtype(targets.dtype, np.integer):\n", "    if False:\n",
                ("class_indices of one-hot rows: raised ValueError", "expected a TypeError")),
    WrongAnswer("04.3B", "04.3", "range-off-by-one", "(targets >= classes)", "(targets > classes)",
                ("class_indices([0, 1, 3, 2], ...) for C = 3: returned without an error",)),
    WrongAnswer("04.3C", "04.3", "count-not-checked", "    if targets.shape != (examples,):\n", "    if targets.ndim != 1:\n",
                ("class_indices of 3 targets for 4 rows: returned without an error",)),
    WrongAnswer("04.4A", "04.4", "columns-not-gathered", "log_probabilities[np.arange(len(targets)), targets]", "log_probabilities[:, targets]",
                ("cross_entropy_per_example(logits (3, 3), [0, 2, 1]): got shape (3, 3); expected (3,)", "a gather, not [:, targets]")),
    WrongAnswer("04.4B", "04.4", "log-of-softmax", "LogSoftmax(axis=-1)(logits)", "Softmax(axis=-1)(logits).log()",
                ("cross_entropy_per_example of logits up to ±1e4: numpy warned: divide by zero encountered in log", "never the log of a softmax")),
    WrongAnswer("04.4C", "04.4", "sign-forgotten", "return -log_probabilities[", "return log_probabilities[",
                ("cross_entropy_per_example(logits (3, 3), [0, 2, 1]): values differ", "-log_softmax(row)[target]")),
    WrongAnswer("A", "04.5", "sum-ignored", '        if self.reduction == "sum":\n            return losses.sum()\n', "",
                ("CrossEntropyLoss(reduction='sum'): got shape (4,); expected ()", "'sum' adds the per-example losses")),
    WrongAnswer("B", "04.5", "none-reduced", "        return losses\n", "        return losses.mean()\n",
                ("CrossEntropyLoss(reduction='none'): got shape (); expected (4,)", "'none' returns the per-example losses")),
    WrongAnswer("A", "04.6", "naive-formula", "        return Tensor((np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))).mean())",
                "        p = 1 / (1 + np.exp(-x))\n        return Tensor((-(y * np.log(p) + (1 - y) * np.log(1 - p))).mean())",
                ("BCEWithLogitsLoss() of ±1000, right: numpy warned", "exp only of -|x|")),
    WrongAnswer("B", "04.6", "log-not-log1p", "np.log1p(np.exp(-np.abs(x)))", "np.log(1 + np.exp(-np.abs(x)))",
                ("BCEWithLogitsLoss() of logit 40, right: values differ", "np.log1p(t)")),
]

# Answers the text allows without prescribing them: they must pass, or text and tests disagree.
RIGHT_ANSWERS = [
    WrongAnswer("C", "01.9", "index-not-unwrapped", "    if isinstance(index, tuple):\n        index = tuple(_unwrap(part) for part in index)\n    else:\n        index = _unwrap(index)\n", "", ()),
    WrongAnswer("C", "01.1", "float32-by-astype-copy", "array = array.astype(np.float32, copy=False)", "array = array.astype(np.float32)", ()),
    WrongAnswer("R", "02.4", "tanh-from-sigmoid", "return Tensor(np.tanh(x.data))", "return Tensor(2 * Sigmoid()(Tensor(2 * x.data)).data - 1)", ()),
    WrongAnswer("R", "02.1", "relu-by-mask", "return Tensor(np.maximum(x.data, 0))", "return Tensor(x.data * (x.data > 0))", ()),
]


def solutions(module: Module) -> dict[str, str]:
    """{exercise: reference source} of the exercise cells of the module's source notebook."""
    return {exercise_id(grade_id): source for grade_id, source in exercise_sources(read_notebook(module.notebook(ROOT, SOURCE_DIR))).items()}


def notebook_with(module: Module, answers: dict[str, str], folder: Path) -> Path:
    """The module's released notebook with each exercise cell replaced by the given answer."""
    notebook = read_notebook(module.notebook(ROOT, RELEASE_DIR))
    for cell in notebook["cells"]:
        meta = nbgrader_meta(cell)
        if meta.get("solution") and exercise_id(meta["grade_id"]) in answers:
            cell["source"] = answers[exercise_id(meta["grade_id"])]
    path = folder / module.notebook_name
    path.write_text(json.dumps(notebook))
    return path


@pytest.fixture(scope="module")
def results_of_run(tmp_path_factory: pytest.TempPathFactory, reference_path: str):
    """(module number, run name) -> {exercise: result}, each run executed once, when first asked for.
    The kernels import the reference of the earlier modules, as when grading."""
    cache: dict[tuple[int, str], dict[str, ExerciseResult]] = {}

    def results(module: Module, run: str) -> dict[str, ExerciseResult]:
        if (module.number, run) not in cache:
            answers = solutions(module)
            for change in (w for w in WRONG_ANSWERS + RIGHT_ANSWERS if w.run == run and w.module == module):
                assert answers[change.exercise].count(change.old) == 1, f"{change.id}: the text to replace must occur once"
                answers[change.exercise] = answers[change.exercise].replace(change.old, change.new)
            folder = tmp_path_factory.mktemp(f"{module.slug}-{run}")
            executed = run_notebook(notebook_with(module, answers, folder), env={"PYTHONPATH": reference_path})
            cache[module.number, run] = {result.exercise: result for result in exercise_results(executed)}
        return cache[module.number, run]

    return results


@pytest.mark.parametrize("wrong", WRONG_ANSWERS, ids=[w.id for w in WRONG_ANSWERS])
def test_wrong_answer_fails_with_the_hint_that_names_the_mistake(wrong: WrongAnswer, results_of_run) -> None:
    result = results_of_run(wrong.module, wrong.run)[wrong.exercise]
    assert result.status == "failed", result
    for fragment in wrong.expected:
        assert fragment in result.detail, f"{wrong.id}: expected {fragment!r} in the report, got {result.detail!r}"


def test_each_exercise_has_two_wrong_answers_tried() -> None:
    for module in (m for m in load_modules(ROOT) if m.notebook(ROOT, SOURCE_DIR).exists()):  # every module written, not only those listed here
        counts = {number: sum(w.exercise == number for w in WRONG_ANSWERS) for number in solutions(module)}
        assert all(count >= 2 for count in counts.values()), counts


@pytest.mark.parametrize("module_and_run", sorted({(w.module.number, w.run) for w in WRONG_ANSWERS if len(w.run) == 1}), ids=str)
def test_other_exercises_pass_beside_the_wrong_answers(module_and_run: tuple[int, str], results_of_run) -> None:
    """A wrong answer fails only its own exercise: the runs really isolate what they test."""
    number, run = module_and_run
    module = find_module(load_modules(ROOT), str(number))
    wrong_here = {w.exercise for w in WRONG_ANSWERS if w.run == run and w.module == module}
    results = results_of_run(module, run)
    assert all(result.status == "passed" for exercise, result in results.items() if exercise not in wrong_here), results


@pytest.mark.parametrize("right", RIGHT_ANSWERS, ids=[r.id for r in RIGHT_ANSWERS])
def test_right_answers_the_text_allows_pass(right: WrongAnswer, results_of_run) -> None:
    assert results_of_run(right.module, right.run)[right.exercise].status == "passed"

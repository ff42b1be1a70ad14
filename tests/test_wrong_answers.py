"""Each module's visible tests catch plausible wrong answers with the hint that names the mistake.

Each wrong answer is the reference solution of one exercise with one plausible mistake made in
it (an in-place change, a missing keepdims, numpy's repr, an overflowing exp, ...), pasted into
the released student notebook. Wrong answers to exercises that no other test uses share a run
(one per exercise); those that later tests build on (01.1's Tensor, 03.1's named_parameters,
03.4's Linear, ...) get runs of their own. A new module adds its wrong answers here.
"""

from __future__ import annotations

import concurrent.futures
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import ROOT, WHOLE_SOLUTION, answered, reference_answers, released_notebook, rewritten

from tito.course.cells import exercise_id, is_demonstration
from tito.course.registry import SOURCE_DIR, Module, find_module, load_modules
from tito.course.verdict import ExerciseResult, exercise_results
from tito.student.testing import run_notebook


@dataclass(frozen=True)
class WrongAnswer:
    run: str  # wrong answers with the same run share one notebook run
    exercise: str  # "01.2"
    mistake: str  # what the student got wrong, for the test id
    old: str  # text of the reference solution (or WHOLE_SOLUTION) ...
    new: str  # ... replaced by this
    expected: tuple[str, ...]  # fragments the reported failure must contain

    @property
    def id(self) -> str:
        return f"{self.exercise}-{self.mistake}"

    @property
    def module(self) -> Module:
        return find_module(load_modules(ROOT), self.exercise.split(".")[0])


WRONG_ANSWERS = [
    WrongAnswer(
        "init-float64",
        "01.1",
        "keeps-float64",
        "array = array.astype(Tensor.float_dtype, copy=False)",
        "pass",
        (
            "Tensor([[1.0, 2.0], [3.0, 4.0]]).data: got dtype float64; expected float32",
            "convert with .astype(Tensor.float_dtype)",
        ),
    ),
    WrongAnswer(
        "init-float32-written-out",
        "01.1",
        "ignores-float_dtype",
        "array.astype(Tensor.float_dtype, copy=False)",
        "array.astype(np.float32, copy=False)",
        (
            "Tensor(float32 array) while Tensor.float_dtype is float64: got dtype float32; expected float64",
            "not to a dtype written out",
        ),
    ),
    WrongAnswer(
        "init-shared",
        "01.1",
        "shares-the-array",
        "array = np.array(data)",
        "array = np.asarray(data)",
        ("Tensor(array) after the array changed: values differ", "copy the data with np.array"),
    ),
    WrongAnswer(
        "init-message",
        "01.1",
        "error-without-dtype",
        "but got dtype {array.dtype}: ",
        "but got other data: ",
        ("Tensor([1, 2], requires_grad=True): the ValueError says", "it should mention ['int64']"),
    ),
    WrongAnswer(
        "A",
        "01.2",
        "rsub-reversed",
        "return Tensor(_unwrap(other) - self.data)",
        "return Tensor(self.data - _unwrap(other))",
        ("1 - a: values differ", "1 - a calls a.__rsub__(1), which must compute other - self"),
    ),
    WrongAnswer(
        "B",
        "01.2",
        "in-place-sub",
        "return Tensor(self.data - _unwrap(other))",
        "self.data -= _unwrap(other)\n    return Tensor(self.data)",
        ("a - b: changed its input a in place (a[0, 0] was", "no `-=` on its .data"),
    ),
    WrongAnswer(
        "C",
        "01.2",
        "floor-division",
        "return Tensor(self.data / _unwrap(other))",
        "return Tensor(self.data // _unwrap(other))",
        ("a / b: values differ", "a // b would round down"),
    ),
    WrongAnswer(
        "A",
        "01.3",
        "pow-multiplies",
        "return Tensor(self.data ** exponent)",
        "return Tensor(self.data * exponent)",
        ("x ** 2: values differ", "x ** 2 is x * x, not 2 * x"),
    ),
    WrongAnswer(
        "B",
        "01.3",
        "in-place-neg",
        "return Tensor(-self.data)",
        "self.data *= -1\n    return Tensor(self.data)",
        ("-x: changed its input x in place",),
    ),
    WrongAnswer(
        "A",
        "01.4",
        "vector-inner-axis",
        "right_inner = right.shape[0] if right.ndim == 1 else right.shape[-2]",
        "right_inner = right.shape[-2]",
        ("a @ v  (shapes (2, 3) @ (3,)): raised IndexError: tuple index out of range",),
    ),
    WrongAnswer(
        "B",
        "01.4",
        "elementwise-product",
        "product = left @ right",
        "product = left * right",
        ("a @ b  (shapes (2, 3) @ (3, 4)): raised ValueError", "* would be elementwise"),
    ),
    WrongAnswer(
        "C",
        "01.4",
        "rmatmul-reversed",
        "return Tensor(other) @ self",
        "return self @ Tensor(other)",
        ("np.ones((4, 2)) @ a: raised ValueError", "other comes first"),
    ),
    WrongAnswer(
        "A",
        "01.5",
        "keepdims-ignored",
        "return Tensor(self.data.sum(axis=axis, keepdims=keepdims))",
        "return Tensor(self.data.sum(axis=axis))",
        ("x.sum(axis=1, keepdims=True): got shape (2,); expected (2, 1)", "keepdims=True keeps the reduced axis"),
    ),
    WrongAnswer(
        "B",
        "01.5",
        "axis-ignored",
        "return Tensor(self.data.sum(axis=axis, keepdims=keepdims))",
        "return Tensor(np.sum(self.data))",
        ("x.sum(axis=0): got shape (); expected (3,)", "axis=0 adds down each column"),
    ),
    WrongAnswer(
        "A",
        "01.6",
        "max-from-zero",
        "return Tensor(self.data.max(axis=axis, keepdims=keepdims))",
        "return Tensor(np.maximum(self.data, 0).max(axis=axis, keepdims=keepdims))",
        ("x.max(axis=0): values differ", "whose largest is -2, not 0"),
    ),
    WrongAnswer(
        "B",
        "01.6",
        "mean-over-rows-only",
        "return Tensor(total / (self.data.size // max(total.size, 1)))",
        "return Tensor(total / len(self.data))",
        ("x.mean() for x of shape (2, 3): values differ", "the mean of all 6 elements"),
    ),
    WrongAnswer(
        "01.6-count",
        "01.6",
        "count-of-the-result",
        "return Tensor(total / (self.data.size // max(total.size, 1)))",
        "return Tensor(total / max(total.size, 1))",
        ("x.mean() for x of shape (2, 3): values differ", "the mean of all 6 elements"),
    ),
    WrongAnswer(
        "01.6-axis",
        "01.6",
        "count-along-one-axis",
        "return Tensor(total / (self.data.size // max(total.size, 1)))",
        "return Tensor(total / (self.data.size if axis is None else self.data.shape[axis]))",
        ("x.mean(axis=(0, 1)): raised TypeError", "a tuple of axes averages over all of them"),
    ),
    WrongAnswer(
        "A",
        "01.7",
        "tuple-not-unpacked",
        "    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):\n        shape = tuple(shape[0])\n",
        "",
        ("x.reshape((3, 2)): raised TypeError", "a single tuple argument is the whole shape: unpack it"),
    ),
    WrongAnswer(
        "B",
        "01.7",
        "numpy-message",
        "    except ValueError:",
        "    except IndexError:",
        ("x.reshape(4, 2) for x of shape (2, 3): the ValueError says", "it should mention ['(2, 3)', '(4, 2)']"),
    ),
    WrongAnswer(
        "C",
        "01.7",
        "in-place-reshape",
        "    return Tensor(reshaped)",
        "    self.data = reshaped\n    return self",
        ("x.reshape(3, 2): changed its input x in place",),
    ),
    WrongAnswer(
        "A",
        "01.8",
        "reshape-for-transpose",
        "transposed = self.data.transpose(axes if axes else None)",
        "transposed = self.data.reshape(self.shape[::-1])",
        ("x.transpose() for x of shape (2, 3): values differ", "a reshape to (3, 2) would keep the wrong order"),
    ),
    WrongAnswer(
        "B",
        "01.8",
        "pytorch-swap",
        "transposed = self.data.transpose(axes if axes else None)",
        "transposed = self.data.swapaxes(*axes) if len(axes) == 2 else self.data.transpose(axes if axes else None)",
        ("x.transpose(0, 1): got shape (3, 2); expected (2, 3)", "not a swap as in PyTorch"),
    ),
    WrongAnswer(
        "A",
        "01.9",
        "returns-ndarray",
        "    return Tensor(self.data[index])",
        "    return self.data[index]",
        ("x[1] for x of shape (4, 3): got a ndarray; expected a Tensor",),
    ),
    WrongAnswer(
        "B",
        "01.9",
        "tuple-as-array",
        "index = tuple([_unwrap(part) for part in index])",
        "index = np.array([_unwrap(part) for part in index])",
        ("x[1, 2] for x of shape (4, 3): got shape (2, 3); expected ()", "a tuple has one index per axis"),
    ),
    WrongAnswer(
        "D",
        "01.7",
        "result-a-view",
        "    return Tensor(reshaped)",
        "    return Tensor.from_numpy(reshaped)",
        ("x.reshape(3, 2): shares its numbers with its input x", "only for an array the operation has just made"),
    ),
    WrongAnswer(
        "D",
        "01.8",
        "result-a-view",
        "    return Tensor(transposed)",
        "    return Tensor.from_numpy(transposed)",
        ("x.transpose() for x of shape (2, 3): shares its numbers with its input x", "a Tensor owns its numbers"),
    ),
    WrongAnswer(
        "D",
        "01.9",
        "result-a-view",
        "    return Tensor(self.data[index])",
        "    return Tensor.from_numpy(self.data[index])",
        ("x[1] for x of shape (4, 3): shares its numbers with its input x", "wrap self.data, or a view of it"),
    ),
    WrongAnswer(
        "A",
        "01.10",
        "log10",
        "return Tensor(np.log(self.data))",
        "return Tensor(np.log10(self.data))",
        ("x.log() for positive x: values differ", "the natural logarithm (base e)"),
    ),
    WrongAnswer(
        "B",
        "01.10",
        "in-place-exp",
        "return Tensor(np.exp(self.data))",
        "return Tensor(np.exp(self.data, out=self.data))",
        ("x.exp(): changed its input x in place",),
    ),
    WrongAnswer(
        "A",
        "01.11",
        "numpy-repr-inside",
        'values = np.array2string(self.data, separator=", ", prefix="Tensor(", threshold=summarize_above, edgeitems=3)',
        "values = repr(self.data)",
        (
            "repr(Tensor([1.5, 2.0, 3.0])): got 'Tensor(array([1.5, 2. , 3. ], dtype=float32))'; expected 'Tensor([1.5, 2. , 3. ])'",
        ),
    ),
    WrongAnswer(
        "B",
        "01.11",
        "rows-not-aligned",
        'prefix="Tensor(", ',
        "",
        ("repr(Tensor([[1, 2], [3, 4]])): got", "pass prefix='Tensor(' to np.array2string"),
    ),
    WrongAnswer(
        "C",
        "01.11",
        "never-summarized",
        "threshold=summarize_above, ",
        "",
        ("repr of a (3, 7) tensor (21 elements): got", "more than 20 elements: summarize"),
    ),
    # Module 02
    WrongAnswer(
        "A",
        "02.1",
        "np-max-reduces",
        "np.maximum(x.data, 0)",
        "np.max(x.data, 0)",
        (
            "ReLU()(x) for x of shape (2, 3): got shape (3,); expected (2, 3)",
            "a reduction such as np.max gives one number",
        ),
    ),
    WrongAnswer(
        "B",
        "02.1",
        "float-zero",
        "np.maximum(x.data, 0)",
        "np.maximum(x.data, 0.0)",
        ("ReLU()(Tensor([-3, 0, 4])): got dtype float32; expected int64", "compare with the integer 0"),
    ),
    WrongAnswer(
        "C",
        "02.1",
        "in-place",
        "np.maximum(x.data, 0)",
        "np.maximum(x.data, 0, out=x.data)",
        ("ReLU()(x) for x of shape (2, 3): changed its input x in place",),
    ),
    WrongAnswer(
        "A",
        "02.2",
        "slope-not-used",
        "self.negative_slope * x.data",
        "0.01 * x.data",
        ("LeakyReLU(negative_slope=0.2)(x): values differ", "use the stored self.negative_slope"),
    ),
    WrongAnswer(
        "B",
        "02.2",
        "negatives-zeroed",
        "self.negative_slope * x.data",
        "0 * x.data",
        ("LeakyReLU()(x): values differ", "negatives are multiplied by 0.01 (not set to 0"),
    ),
    WrongAnswer(
        "C",
        "02.2",
        "slope-not-a-float",
        "self.negative_slope = float(negative_slope)",
        "self.negative_slope = negative_slope",
        ("repr(LeakyReLU(1)): got 'LeakyReLU(negative_slope=1)'", "store the slope as a float"),
    ),
    WrongAnswer(
        "A",
        "02.3",
        "naive-formula",
        "        z = np.exp(-np.abs(x.data))\n        return Tensor(np.where(x.data >= 0, 1 / (1 + z), z / (1 + z)))",
        "        return Tensor(1 / (1 + np.exp(-x.data)))",
        (
            "Sigmoid()(Tensor([-1000.0, 0.0, 1000.0])): numpy warned: overflow encountered in exp",
            "exponentiate only -|x|",
        ),
    ),
    WrongAnswer(
        "B",
        "02.3",
        "branches-swapped",
        "np.where(x.data >= 0, 1 / (1 + z), z / (1 + z))",
        "np.where(x.data >= 0, z / (1 + z), 1 / (1 + z))",
        ("Sigmoid()(x) for x of shape (2, 3): values differ", "sigmoid(0) is 0.5"),
    ),
    WrongAnswer(
        "A",
        "02.4",
        "overflowing-formula",
        "np.tanh(x.data)",
        "(np.exp(x.data) - np.exp(-x.data)) / (np.exp(x.data) + np.exp(-x.data))",
        (
            "Tanh()(Tensor([-1000, -50, 0, 50, 1000])): numpy warned: overflow encountered in exp",
            "use np.tanh, or 2 * sigmoid(2x) - 1",
        ),
    ),
    WrongAnswer(
        "B",
        "02.4",
        "sigmoid-instead",
        "np.tanh(x.data)",
        "1 / (1 + np.exp(-x.data))",
        ("Tanh()(x) for x of shape (2, 3): values differ", "sigmoid would give 0.5 at 0"),
    ),
    WrongAnswer(
        "A",
        "02.5",
        "no-max-subtracted",
        "shifted = x.data - x.data.max(axis=self.axis, keepdims=True)",
        "shifted = x.data",
        (
            "Softmax()(Tensor([[1000, 0], [-1000, 0], [1000, 1000]])): numpy warned: overflow encountered in exp",
            "subtract each row's maximum",
        ),
    ),
    WrongAnswer(
        "B",
        "02.5",
        "sum-without-keepdims",
        "exponentials.sum(axis=self.axis, keepdims=True)",
        "exponentials.sum(axis=self.axis)",
        ("Softmax()(x) for x of shape (2, 3): raised ValueError", "keepdims=True"),
    ),
    WrongAnswer(
        "C",
        "02.5",
        "axis-ignored",
        "x.data.max(axis=self.axis, keepdims=True)\n        exponentials = np.exp(shifted)\n        return Tensor(exponentials / exponentials.sum(axis=self.axis, keepdims=True))",
        "x.data.max(axis=-1, keepdims=True)\n        exponentials = np.exp(shifted)\n        return Tensor(exponentials / exponentials.sum(axis=-1, keepdims=True))",
        ("Softmax(axis=0)(x): values differ", "use self.axis"),
    ),
    WrongAnswer(
        "A",
        "02.6",
        "log-of-softmax",
        "return Tensor(shifted - np.log(np.exp(shifted).sum(axis=self.axis, keepdims=True)))",
        "return Tensor(np.log(np.exp(shifted) / np.exp(shifted).sum(axis=self.axis, keepdims=True)))",
        (
            "LogSoftmax()(Tensor([1000.0, 0.0])): numpy warned: divide by zero encountered in log",
            "log(softmax) gives -inf here",
        ),
    ),
    WrongAnswer(
        "B",
        "02.6",
        "max-not-subtracted",
        "shifted = x.data - x.data.max(axis=self.axis, keepdims=True)",
        "shifted = x.data",
        (
            "LogSoftmax()(Tensor([1000.0, 0.0])): numpy warned: overflow encountered in exp",
            "subtract the max and use log-sum-exp",
        ),
    ),
    WrongAnswer(
        "02.3-errstate",
        "02.3",
        "naive-formula-silenced",
        "        z = np.exp(-np.abs(x.data))\n        return Tensor(np.where(x.data >= 0, 1 / (1 + z), z / (1 + z)))",
        '        with np.errstate(over="ignore"):\n            return Tensor(1 / (1 + np.exp(-x.data)))',
        (
            "Sigmoid()(Tensor([-1000.0, -100.0, 100.0, 1000.0])): exp overflowed to inf (of 1000), even if its warning was silenced",
            "exponentiate only -|x|",
        ),
    ),
    # Module 03
    WrongAnswer(
        "03.1A",
        "03.1",
        "shared-listed-twice",
        "            if id(parameter) not in listed:\n                listed.add(id(parameter))\n                found.append((full_name, parameter))",
        "            found.append((full_name, parameter))",
        (
            "Tree(shared).named_parameters() names: got ['left.weight', 'gain', 'right.weight', 'right_again.weight']",
            "only once",
        ),
    ),
    WrongAnswer(
        "03.1B",
        "03.1",
        "no-prefix",
        '[(f"{name}.{inner}", parameter)',
        "[(inner, parameter)",
        (
            "Tree(shared).named_parameters() names: got ['weight', 'gain', 'weight']",
            "get the attribute and a dot in front",
        ),
    ),
    WrongAnswer(
        "03.1C",
        "03.1",
        "constants-included",
        "elif isinstance(value, Tensor) and value.requires_grad:",
        "elif isinstance(value, Tensor):",
        ("Scaled(2.0).named_parameters() names: got ['weight', 'constant']", "only Tensors with requires_grad=True"),
    ),
    WrongAnswer(
        "A",
        "03.2",
        "not-recursive",
        "    for _, child in self.named_children():\n        child.train(mode)\n",
        "",
        (
            "after tree.eval(): training flags of tree, left, right are [False, True, True]",
            "set them on every sub-module",
        ),
    ),
    WrongAnswer(
        "B",
        "03.2",
        "eval-returns-none",
        "    return self.train(False)",
        "    self.train(False)",
        ("tree.eval(): got a NoneType; expected a Tree", "train and eval return self"),
    ),
    WrongAnswer(
        "C",
        "03.2",
        "grads-zeroed-not-forgotten",
        "        parameter.grad = None",
        "        parameter.grad = Tensor(np.zeros(parameter.shape))",
        ("these parameters still have a .grad",),
    ),
    WrongAnswer(
        "A",
        "03.3",
        "state-not-copied",
        "parameter.data.copy() for name",
        "parameter.data for name",
        ("a saved state after the parameter changed: values differ", "save a copy of each array"),
    ),
    WrongAnswer(
        "B",
        "03.3",
        "data-replaced",
        "        parameter.data[...] = arrays[name]",
        "        parameter.data = arrays[name]",
        ("tree.gain after the loaded dict's array was changed", "copy the numbers into the parameter"),
    ),
    WrongAnswer(
        "C",
        "03.3",
        "copies-before-checking",
        "            )\n    for name, parameter in parameters.items():\n        parameter.data[...] = arrays[name]",
        "            )\n        parameter.data[...] = arrays[name]",
        (
            "a failed load_state_dict changed ['left.weight', 'gain']",
            "check every key and shape before copying anything",
        ),
    ),
    WrongAnswer(
        "03.4A",
        "03.4",
        "fan-out-scale",
        "scale = np.sqrt(2.0 / in_features)",
        "scale = np.sqrt(2.0 / out_features)",
        ("Linear(3, 2, rng=default_rng(7)).weight: values differ", "np.sqrt(2.0 / in_features)"),
    ),
    WrongAnswer(
        "03.4B",
        "03.4",
        "transposed-weight",
        "size=(in_features, out_features)",
        "size=(out_features, in_features)",
        ("Linear(3, 2, rng=default_rng(7)).weight: got shape (2, 3); expected (3, 2)",),
    ),
    WrongAnswer(
        "03.4C",
        "03.4",
        "rng-ignored",
        "rng = default_generator() if rng is None else rng",
        "rng = default_generator()",
        ("Linear(3, 2, rng=default_rng(7)).weight: values differ", "from the rng given"),
    ),
    WrongAnswer(
        "03.5A",
        "03.5",
        "weight-transposed",
        "output = x @ self.weight",
        "output = x @ self.weight.T",
        ("Linear(3, 2) on x of shape (4, 3): raised ValueError", "no transpose"),
    ),
    WrongAnswer(
        "03.5B",
        "03.5",
        "bias-none-added",
        "return output if self.bias is None else output + self.bias",
        "return output + self.bias",
        ("Linear(3, 2, bias=False) on x: raised TypeError", "without a bias the output is x @ weight alone"),
    ),
    WrongAnswer(
        "03.5C",
        "03.5",
        "no-shape-check",
        "    if x.ndim == 0 or x.shape[-1] != self.in_features:",
        "    if False:",
        (
            "Linear(3, 2) on x of shape (4, 5): the ValueError says",
            "it should mention ['Linear(in_features=3, out_features=2, bias=True)']",
        ),
    ),
    WrongAnswer(
        "03.6A",
        "03.6",
        "slice-gives-list",
        "            return Sequential(*layers[index])",
        "            return layers[index]",
        ("net[1:]: got a list; expected a Sequential", "a slice gives a new Sequential"),
    ),
    WrongAnswer(
        "03.6B",
        "03.6",
        "last-layer-only",
        "        for layer in self:\n            x = layer(x)\n        return x",
        "        return list(self)[-1](x) if len(self) else x",
        ("on x of shape (5, 4): raised ValueError", "each layer's output is the next one's input"),
    ),
    WrongAnswer(
        "03.6C",
        "03.6",
        "named-layerN",
        "setattr(self, str(index), layer)",
        'setattr(self, f"layer{index}", layer)',
        ("len(Sequential of 3 layers): got 0; expected 3", "count the attributes named '0'"),
    ),
    WrongAnswer(
        "A",
        "03.7",
        "nested-not-indented",
        'repr(layer).replace("\\n", "\\n  ")',
        "repr(layer)",
        ("repr of a Sequential inside a Sequential: got", "indent the later lines"),
    ),
    WrongAnswer(
        "B",
        "03.7",
        "no-closing-line",
        'return "Sequential(\\n" + "\\n".join(lines) + "\\n)"',
        'return "Sequential(\\n" + "\\n".join(lines) + ")"',
        ("repr(Sequential(Linear(64, 32), ReLU(), Linear(32, 10))): got", "then ')' on its own line"),
    ),
    WrongAnswer(
        "03.1-modules",
        "03.1",
        "modules-deduplicated-not-parameters",
        """    found, listed = [], set()
    for name, value in vars(self).items():
        if isinstance(value, Module):
            candidates = [(f"{name}.{inner}", parameter) for inner, parameter in value.named_parameters()]
        elif isinstance(value, Tensor) and value.requires_grad:
            candidates = [(name, value)]
        else:
            continue
        for full_name, parameter in candidates:
            if id(parameter) not in listed:
                listed.add(id(parameter))
                found.append((full_name, parameter))
    return found""",
        """    found, seen = [], set()
    for name, value in vars(self).items():
        if isinstance(value, Module):
            if id(value) in seen:
                continue
            seen.add(id(value))
            found += [(f"{name}.{inner}", parameter) for inner, parameter in value.named_parameters()]
        elif isinstance(value, Tensor) and value.requires_grad:
            found.append((name, value))
    return found""",
        (
            "two sub-modules that share (tie) one weight: got ['first.weight', 'second.weight']",
            "not only a module seen before",
        ),
    ),
    # Module 04
    WrongAnswer(
        "A",
        "04.1",
        "no-shape-check",
        '        check_same_shape("MSELoss", prediction, target)\n',
        "",
        ("MSELoss() of a (4, 1) prediction and a (4,) target: returned without an error; expected a ValueError",),
    ),
    WrongAnswer(
        "B",
        "04.1",
        "sum-not-mean",
        "return ((prediction - target) ** 2).mean()",
        "return ((prediction - target) ** 2).sum()",
        ("MSELoss()(prediction, target) of shape (2, 2): values differ", "the mean over all 4 elements"),
    ),
    WrongAnswer(
        "C",
        "04.1",
        "target-not-wrapped",
        "        target = as_tensor(target)\n",
        "",
        ("MSELoss() with a list as the target: raised AttributeError", "as_tensor(target)"),
    ),
    WrongAnswer(
        "A",
        "04.2",
        "columns-not-rows",
        "np.eye(num_classes, dtype=np.float32)[labels]",
        "np.eye(num_classes, dtype=np.float32)[:, labels]",
        ("one_hot([2, 0, 1], 3): values differ", "row i has a 1 in column labels[i]"),
    ),
    WrongAnswer(
        "B",
        "04.2",
        "no-range-check",
        "    if outside.any():\n",
        "    if False:\n",
        ("one_hot([0, 3], 3): raised IndexError", "expected a ValueError"),
    ),
    WrongAnswer(
        "C",
        "04.2",
        "classes-from-labels",
        "np.eye(num_classes, dtype=np.float32)[labels]",
        "np.eye(labels.max() + 1, dtype=np.float32)[labels]",
        ("one_hot([0, 2], 4): got shape (2, 3); expected (2, 4)", "num_classes columns"),
    ),
    WrongAnswer(
        "04.3A",
        "04.3",
        "floats-accepted",
        '    if targets.dtype.kind not in "iu":  # np.issubdtype(targets.dtype, np.integer), several times faster\n',
        "    if False:\n",
        ("class_indices of one-hot rows: raised ValueError", "expected a TypeError"),
    ),
    WrongAnswer(
        "04.3B",
        "04.3",
        "range-off-by-one",
        "(targets >= classes)",
        "(targets > classes)",
        ("class_indices([0, 1, 3, 2], ...) for C = 3: returned without an error",),
    ),
    WrongAnswer(
        "04.3C",
        "04.3",
        "count-not-checked",
        "    if targets.shape != (examples,):\n",
        "    if targets.ndim != 1:\n",
        ("class_indices of 3 targets for 4 rows: returned without an error",),
    ),
    WrongAnswer(
        "04.4A",
        "04.4",
        "columns-not-gathered",
        "log_probabilities[np.arange(len(targets)), targets]",
        "log_probabilities[:, targets]",
        (
            "cross_entropy_per_example(logits (3, 3), [0, 2, 1]): got shape (3, 3); expected (3,)",
            "a gather, not [:, targets]",
        ),
    ),
    WrongAnswer(
        "04.4B",
        "04.4",
        "log-of-softmax",
        "LogSoftmax(axis=-1)(logits)",
        "Softmax(axis=-1)(logits).log()",
        (
            "cross_entropy_per_example of logits up to ±1e4: numpy warned: divide by zero encountered in log",
            "never the log of a softmax",
        ),
    ),
    WrongAnswer(
        "04.4C",
        "04.4",
        "sign-forgotten",
        "return -log_probabilities[",
        "return log_probabilities[",
        ("cross_entropy_per_example(logits (3, 3), [0, 2, 1]): values differ", "-log_softmax(row)[target]"),
    ),
    WrongAnswer(
        "A",
        "04.5",
        "sum-ignored",
        '        if self.reduction == "sum":\n            return losses.sum()\n',
        "",
        ("CrossEntropyLoss(reduction='sum'): got shape (4,); expected ()", "'sum' adds the per-example losses"),
    ),
    WrongAnswer(
        "B",
        "04.5",
        "none-reduced",
        "        return losses\n",
        "        return losses.mean()\n",
        ("CrossEntropyLoss(reduction='none'): got shape (); expected (4,)", "'none' returns the per-example losses"),
    ),
    WrongAnswer(
        "A",
        "04.6",
        "naive-formula",
        "        return Tensor((np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))).mean())",
        "        p = 1 / (1 + np.exp(-x))\n        return Tensor((-(y * np.log(p) + (1 - y) * np.log(1 - p))).mean())",
        ("BCEWithLogitsLoss() of ±1000, right: numpy warned", "exp only of -|x|"),
    ),
    WrongAnswer(
        "B",
        "04.6",
        "log-not-log1p",
        "np.log1p(np.exp(-np.abs(x)))",
        "np.log(1 + np.exp(-np.abs(x)))",
        ("BCEWithLogitsLoss() of logit 40, right: values differ", "np.log1p(t)"),
    ),
    WrongAnswer(
        "04.4-numpy",
        "04.4",
        "numpy-wrapped-in-a-tensor",
        """    log_probabilities = LogSoftmax(axis=-1)(logits)
    return -log_probabilities[np.arange(len(targets)), targets]""",
        """    z = logits.data - logits.data.max(axis=-1, keepdims=True)
    log_probabilities = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return Tensor(-log_probabilities[np.arange(len(targets)), targets])""",
        (
            "cross_entropy_per_example(logits (3, 3), [0, 2, 1]): computed without LogSoftmax or Tensor.__getitem__",
            "numpy wrapped in a Tensor",
        ),
    ),
    # Module 05: the rules' tests call each node's backward directly, so wrong rules share runs A and B;
    # unbroadcast (used by the given Add), spread (used by Max), the engine and no_grad, which later tests build on, get runs of their own.
    WrongAnswer(
        "05.1x",
        "05.1",
        "keepdims-lost",
        "grad = grad.sum(axis=stretched, keepdims=True)",
        "grad = grad.sum(axis=stretched)",
        ("unbroadcast(grad (4, 3), (4, 1)): got shape (4,); expected (4, 1)", "keepdims=True"),
    ),
    WrongAnswer(
        "05.1y",
        "05.1",
        "leading-axes-kept",
        "    if extra > 0:\n        grad = grad.sum(axis=tuple(range(extra)))\n",
        "",
        ("unbroadcast(grad (4, 3), (3,)): got shape (4, 3); expected (3,)", "sum the gradient over the rows"),
    ),
    WrongAnswer(
        "A",
        "05.2",
        "sub-sign",
        "unbroadcast(-grad, b.shape)",
        "unbroadcast(grad, b.shape)",
        ("a - b, shapes (3, 4) and (4,): the gradient of input 1: values differ", "dL/db = -grad"),
    ),
    WrongAnswer(
        "B",
        "05.2",
        "sub-not-unbroadcast",
        "unbroadcast(grad, a.shape) if needs_a else None, unbroadcast(-grad, b.shape)",
        "grad if needs_a else None, -grad",
        (
            "a - b, shapes (3, 4) and (4,): the gradient of input 1: got shape (3, 4); expected (4,)",
            "un-broadcast to b's shape",
        ),
    ),
    WrongAnswer(
        "A",
        "05.3",
        "mul-own-input",
        "unbroadcast(grad * b, a.shape)",
        "unbroadcast(grad * a, a.shape)",
        ("a * b, shapes (3, 4) and (4,): the gradient of input 0: values differ", "each uses the OTHER input"),
    ),
    WrongAnswer(
        "B",
        "05.3",
        "div-sign",
        "unbroadcast(-grad * a / (b * b), b.shape)",
        "unbroadcast(grad * a / (b * b), b.shape)",
        ("a / c, shapes (3, 4) and (3, 1): the gradient of input 1: values differ", "-grad * a / c**2"),
    ),
    WrongAnswer(
        "A",
        "05.4",
        "pow-not-lowered",
        "a.data ** (exponent - 1)",
        "a.data ** exponent",
        ("a ** 2: the gradient of input 0: values differ", "grad * 2 * a"),
    ),
    WrongAnswer(
        "B",
        "05.4",
        "log-times",
        "return (grad / self.inputs[0].data,)",
        "return (grad * self.inputs[0].data,)",
        ("p.log(): the gradient of input 0: values differ", "1 / a"),
    ),
    WrongAnswer(
        "A",
        "05.5",
        "transpose-forgotten",
        "grad2 @ np.swapaxes(b2, -1, -2)",
        "grad2 @ b2",
        ("a @ b, shapes (3, 4) @ (4, 2): backward: raised ValueError", "grad @ b.T"),
    ),
    WrongAnswer(
        "B",
        "05.5",
        "batch-not-summed",
        "unbroadcast(np.swapaxes(a2, -1, -2) @ grad2, b2.shape)",
        "(np.swapaxes(a2, -1, -2) @ grad2)",
        (
            "x @ b, shapes (2, 3, 4) @ (4, 2): the gradient of input 1: got shape (2, 4, 2); expected (4, 2)",
            "unbroadcast",
        ),
    ),
    WrongAnswer(
        "A",
        "05.6",
        "mean-over-everything",
        "count = x.size // self.output.size",
        "count = x.size",
        ("x.mean(axis=0), (2, 3) -> (3,): the gradient of input 0: values differ", "divide by x.size // output.size"),
    ),
    WrongAnswer(
        "05.6y",
        "05.6",
        "axis-not-restored",
        "    if axis is not None and not keepdims:\n        grad = np.expand_dims(grad, axis)\n",
        "",
        ("spread(grad (2,), (2, 3), axis=1, keepdims=False): raised ValueError", "np.expand_dims(grad, 1)"),
    ),
    WrongAnswer(
        "A",
        "05.7",
        "repeated-picks-overwrite",
        "        np.add.at(result, index, grad)\n        return",
        "        result[index] += grad\n        return",
        ("x[[0, 2, 0, 0]]: row 0 picked three times: the gradient of input 0: values differ", "np.add.at"),
    ),
    WrongAnswer(
        "B",
        "05.7",
        "transpose-not-inverted",
        "grad.transpose(np.argsort([axis % grad.ndim for axis in axes]))",
        "grad.transpose([axis % grad.ndim for axis in axes])",
        (
            "c.transpose(1, 2, 0), (2, 3, 4) -> (3, 4, 2): the gradient of input 0: got shape (4, 2, 3); expected (2, 3, 4)",
            "np.argsort(axes)",
        ),
    ),
    WrongAnswer(
        "C",
        "05.7",
        "tensor-index-not-unwrapped",
        "x, index = self.inputs[0], _unwrap(self.inputs[1])",
        "x, index = self.inputs",
        ("x[picks] with picks a Tensor [2, 0, 2]: backward: raised TypeError", "Module 01's _unwrap"),
    ),
    WrongAnswer(
        "A",
        "05.8",
        "relu-at-zero",
        "return (None, grad * (x > 0))",
        "return (None, grad * (x >= 0))",
        ("ReLU at -1, 0, 2: its gradient for ones: values differ", "x > 0, not x >= 0"),
    ),
    WrongAnswer(
        "B",
        "05.8",
        "sigmoid-half",
        "return (None, grad * y * (1 - y))",
        "return (None, grad * y)",
        ("Sigmoid()(x): the gradient of input 0: values differ", "y * (1 - y)"),
    ),
    WrongAnswer(
        "A",
        "05.9",
        "softmax-keepdims",
        "(grad * s).sum(axis=axis, keepdims=True)",
        "(grad * s).sum(axis=axis)",
        ("Softmax()(x), (3, 5): backward: raised ValueError", "keepdims=True"),
    ),
    WrongAnswer(
        "B",
        "05.9",
        "logsoftmax-no-sum",
        "np.exp(self.output) * grad.sum(axis=axis, keepdims=True)",
        "np.exp(self.output) * grad",
        (
            "LogSoftmax()(x), (3, 5): the gradient of input 0: values differ",
            "minus the softmax times its sum along the axis",
        ),
    ),
    WrongAnswer(
        "A",
        "05.10",
        "ce-mean-not-divided",
        "gradient *= grad / len(targets)",
        "gradient *= grad",
        ("CrossEntropyLoss()(logits (5, 4), labels): the gradient of input 0: values differ", "/ N"),
    ),
    WrongAnswer(
        "B",
        "05.10",
        "mse-float64",
        "(grad * 2 * difference / difference.size).astype(prediction.dtype, copy=False)",
        "grad * 2 * difference / difference.size",
        (
            "MSELoss()(p, t), (4, 3): the gradient of float32 input 0: got dtype float64; expected float32",
            "convert with .astype(grad.dtype, copy=False)",
        ),
    ),
    WrongAnswer(
        "05.11x",
        "05.11",
        "recursive",
        "    order, visited = [], set()\n",
        "    order, visited = [], set()\n\n    def visit(tensor):\n        if id(tensor) in visited:\n            return\n        visited.add(id(tensor))\n        for value in (tensor.grad_fn.inputs if tensor.grad_fn is not None else ()):\n            if isinstance(value, Tensor) and value.requires_grad:\n                visit(value)\n        order.append(tensor)\n\n    visit(root)\n    return order[::-1]\n",
        ("topological_order of a chain of 3000 additions: raised RecursionError", "use your own stack"),
    ),
    WrongAnswer(
        "05.11y",
        "05.11",
        "not-reversed",
        "    order.reverse()\n",
        "",
        ("an input comes before a tensor computed from it", "the root comes first"),
    ),
    WrongAnswer(
        "05.12x",
        "05.12",
        "shares-overwrite",
        "gradients[key] = gradients[key] + share if key in gradients else share",
        "gradients[key] = share",
        ("a.grad for y = (a + b) + a, y (2, 3): values differ", "Add the shares of every path"),
    ),
    WrongAnswer(
        "05.12y",
        "05.12",
        "no-accumulation",
        "tensor.grad.data += gradient",
        "tensor.grad = Tensor(gradient)",
        (
            "a.grad after a second backward of a + a: 4 + 2: values differ",
            "gradients accumulate across backward() calls",
        ),
    ),
    WrongAnswer(
        "05.1x",
        "05.13",
        "always-restores-true",
        "GradMode.enabled = self.previous",
        "GradMode.enabled = True",
        (
            "GradMode.enabled after an inner no_grad block, inside an outer one: got True; expected False",
            "restore what was there before",
        ),
    ),
    WrongAnswer(
        "05.1y",
        "05.13",
        "never-disabled",
        "        GradMode.enabled = False\n        return self\n",
        "        return self\n",
        ("w * 3 + 1 inside no_grad(): its grad_fn: got <Add>; expected None", "GradMode.enabled must be False"),
    ),
    WrongAnswer(
        "A",
        "05.14",
        "float32-differences",
        "    Tensor.float_dtype = np.float64\n    try:\n",
        "    try:\n",
        ("gradcheck(a + b) with the given Add: raised GradcheckError",),
    ),
    WrongAnswer(
        "05.14y",
        "05.14",
        "dtype-not-restored",
        "    finally:\n        Tensor.float_dtype = previous\n",
        "    finally:\n        pass\n",
        ("Tensor.float_dtype after gradcheck: got <class 'numpy.float64'>", "restore the previous float_dtype"),
    ),
    WrongAnswer(
        "05.11-bfs",
        "05.11",
        "breadth-first",
        WHOLE_SOLUTION,
        """    order, visited, queue = [], {id(root)}, [root]
    while queue:
        tensor = queue.pop(0)
        order.append(tensor)
        if tensor.grad_fn is not None:
            for value in tensor.grad_fn.inputs:
                if isinstance(value, Tensor) and value.requires_grad and id(value) not in visited:
                    visited.add(id(value))
                    queue.append(value)
    return order""",
        ("topological_order of out = s + (s + 1), s = c * 3", "an input comes before a tensor computed from it"),
    ),
    WrongAnswer(
        "05.12-alias",
        "05.12",
        "leaves-share-a-gradient",
        """            elif gradient.flags.owndata and gradient.flags.writeable and id(gradient) not in handed_over:
                tensor.grad = Tensor.from_numpy(gradient)  # made in this pass, given to no other tensor: no copy
                handed_over.add(id(gradient))
            else:
                tensor.grad = Tensor(gradient)  # may be shared, a view or read-only: a copy of its own""",
        """            else:
                tensor.grad = Tensor.from_numpy(gradient)""",
        (
            "p.grad and q.grad after (p + q).backward(ones): do they share an array?: got True; expected False",
            "a .grad of its own",
        ),
    ),
    WrongAnswer(
        "05.12-view",
        "05.12",
        "read-only-gradient-kept",
        """            elif gradient.flags.owndata and gradient.flags.writeable and id(gradient) not in handed_over:""",
        """            elif id(gradient) not in handed_over:""",
        ("s.grad after s.sum().backward() twice: raised ValueError", "read-only broadcast view"),
    ),
    WrongAnswer(
        "05.14-cut",
        "05.14",
        "cut-graph-passes",
        "        if output.requires_grad:\n            output.backward(weights)\n",
        "        if not output.requires_grad:\n            return True\n        output.backward(weights)\n",
        ("gradcheck of Tensor(x.data * 2.0), a function that cuts the graph: returned without an error",),
    ),
    WrongAnswer(
        "05.5-needs",
        "05.5",
        "needs-grad-ignored",
        """        grad_a = unbroadcast(grad2 @ np.swapaxes(b2, -1, -2), a2.shape) if needs_a else None
        grad_b = unbroadcast(np.swapaxes(a2, -1, -2) @ grad2, b2.shape) if needs_b else None
        if a.ndim == 1 and needs_a:  # back from the (1, K) row
            grad_a = grad_a.reshape(a.shape)
        if b.ndim == 1 and needs_b:  # back from the (K, 1) column""",
        """        grad_a = unbroadcast(grad2 @ np.swapaxes(b2, -1, -2), a2.shape)
        grad_b = unbroadcast(np.swapaxes(a2, -1, -2) @ grad2, b2.shape)
        if a.ndim == 1:  # back from the (1, K) row
            grad_a = grad_a.reshape(a.shape)
        if b.ndim == 1:  # back from the (K, 1) column""",
        (
            "a @ b with only b requiring grad (a is the input batch): the gradient of input 0: was computed, but this input does not require grad",
            "self.needs_grad is False",
        ),
    ),
    # Module 06: the Optimizer base (06.1) is under every later test, so its wrong answers run alone.
    WrongAnswer(
        "06.1x",
        "06.1",
        "generator-kept",
        "        params = list(params)\n",
        "",
        ("optimizer.params: got a generator; expected a list", "a generator is used up"),
    ),
    WrongAnswer(
        "06.1y",
        "06.1",
        "zero-filled",
        "            param.grad = None\n",
        "            param.grad = Tensor(np.zeros(param.shape))\n",
        ("the parameters' .grad after zero_grad()", "set each parameter's .grad to None"),
    ),
    WrongAnswer(
        "A",
        "06.2",
        "decay-subtracted",
        "direction = direction + self.weight_decay * param.data",
        "direction = direction - self.weight_decay * param.data",
        ("SGD({'lr': 0.1, 'weight_decay': 0.01}): the parameter after step 1: values differ", "adds weight_decay * p"),
    ),
    WrongAnswer(
        "B",
        "06.2",
        "nesterov-ignored",
        "direction = direction + self.momentum * velocity if self.nesterov else velocity",
        "direction = velocity",
        ("SGD({'lr': 0.05, 'momentum': 0.9, 'nesterov': True}): the parameter after step 1: values differ", "Nesterov"),
    ),
    WrongAnswer(
        "A",
        "06.3",
        "no-bias-correction",
        "m_hat = m / (1 - beta1 ** t)",
        "m_hat = m",
        ("Adam(lr=0.1): the parameter after step 1: values differ", "divide m by 1 - beta1 ** 1"),
    ),
    WrongAnswer(
        "B",
        "06.3",
        "state-forgotten",
        "m = self.m.setdefault(position, np.zeros_like(param.data))",
        "m = np.zeros_like(param.data)",
        ("Adam({'lr': 0.1}): the parameter after step 2: values differ", "m and v keep their values between steps"),
    ),
    WrongAnswer(
        "A",
        "06.4",
        "norm-after-clipping",
        "    return norm\n",
        "    return min(norm, max_norm)\n",
        ("the norm clip_grad_norm returns: values differ", "measured before clipping"),
    ),
    WrongAnswer(
        "B",
        "06.4",
        "new-gradients",
        "        for g in grads:\n            g *= max_norm / (norm + 1e-6)\n",
        "        for param in params:\n            if param.grad is not None:\n                param.grad = Tensor(param.grad.data * (max_norm / (norm + 1e-6)))\n",
        ("a.grad after clipping is the same Tensor: got False; expected True", "in place"),
    ),
    WrongAnswer(
        "A",
        "06.5",
        "counted-late",
        "        self.epoch += 1\n        self.optimizer.lr = self.base_lr * self.gamma ** (self.epoch // self.step_size)\n",
        "        self.optimizer.lr = self.base_lr * self.gamma ** (self.epoch // self.step_size)\n        self.epoch += 1\n",
        (
            "the lr after each of 6 scheduler.step() calls (step_size=2, gamma=0.5): values differ",
            "epoch counting the calls",
        ),
    ),
    WrongAnswer(
        "B",
        "06.5",
        "compounded",
        "self.optimizer.lr = self.base_lr * self.gamma",
        "self.optimizer.lr = self.optimizer.lr * self.gamma",
        (
            "the lr after each of 6 scheduler.step() calls (step_size=2, gamma=0.5): values differ",
            "lr = base_lr * gamma ** (epoch // step_size)",
        ),
    ),
    WrongAnswer(
        "A",
        "06.6",
        "no-zero-grad",
        "        optimizer.zero_grad()\n",
        "",
        ("the path of SGD(lr=0.04) on x² + 10 y² from (2, 1): values differ", "zero the gradient before each backward"),
    ),
    WrongAnswer(
        "B",
        "06.6",
        "same-array-stored",
        "        path.append(point.data.copy())\n",
        "        path.append(point.data)\n",
        ("the path of SGD(lr=0.04) on x² + 10 y² from (2, 1): values differ", "store copies of point.data"),
    ),
    WrongAnswer(
        "06.2-alias",
        "06.2",
        "velocity-aliases-the-gradient",
        "velocity = self.velocity[position] = np.array(direction, copy=True)",
        "velocity = self.velocity[position] = direction",
        ("p.grad, accumulated between steps, after a step: values differ", "never p.grad.data itself"),
    ),
    WrongAnswer(
        "06.3-counter",
        "06.3",
        "one-step-count-for-all",
        """        beta1, beta2 = self.betas
        for position, param in enumerate(self.params):
            if param.grad is None:
                continue
            t = self.steps[position] = self.steps.get(position, 0) + 1""",
        """        beta1, beta2 = self.betas
        t = self.steps[0] = self.steps.get(0, 0) + 1  # one count for the whole optimizer
        for position, param in enumerate(self.params):
            if param.grad is None:
                continue""",
        (
            "Adam([a, b]): b, first updated at the optimizer's third step: values differ",
            "count the steps of each parameter",
        ),
    ),
    # Module 07: accuracy, train_step and evaluate are under fit's tests, so their wrong answers run alone.
    WrongAnswer(
        "07.1x",
        "07.1",
        "argmax-over-rows",
        "scores.argmax(axis=-1)",
        "scores.argmax(axis=0)",
        ("accuracy(logits (4, 3), labels [0, 1, 0, 0]): raised ValueError",),
    ),
    WrongAnswer(
        "07.1y",
        "07.1",
        "count-not-fraction",
        "== targets).mean())",
        "== targets).sum())",
        ("accuracy(logits (4, 3), labels [0, 1, 0, 0]): values differ", "3 of 4 right"),
    ),
    WrongAnswer(
        "07.2x",
        "07.2",
        "no-zero-grad",
        "    self.optimizer.zero_grad()\n",
        "",
        (
            "parameter 0.weight after one train_step (with old gradients left in .grad before it)",
            "zero_grad first clears",
        ),
    ),
    WrongAnswer(
        "07.2y",
        "07.2",
        "loss-tensor-returned",
        "    return loss.item(), self.measure(logits, y)\n",
        "    return loss, self.measure(logits, y)\n",
        ("the loss train_step returns: got a Tensor; expected a float", "loss.item()"),
    ),
    WrongAnswer(
        "07.3x",
        "07.3",
        "batches-not-weighted",
        "total_loss += self.loss_fn(logits, y).item() * size",
        "total_loss += self.loss_fn(logits, y).item() * len(batches[0][0]) if isinstance(batches, list) else 0",
        (
            "evaluate's loss over 10 examples in batches of 4, 4 and 2: values differ",
            "weight each batch's mean loss by its size",
        ),
    ),
    WrongAnswer(
        "07.3y",
        "07.3",
        "mode-not-restored",
        "    finally:\n        self.model.train(was_training)\n",
        "    finally:\n        pass\n",
        (
            "model.training after evaluate of a model that was training: got False; expected True",
            "model.train(was_training)",
        ),
    ),
    WrongAnswer(
        "A",
        "07.4",
        "steps-counted-per-epoch",
        "    step = 0\n    for epoch in range(1, epochs + 1):\n",
        "    for epoch in range(1, epochs + 1):\n        step = 0\n",
        ("the callbacks' calls during fit(epochs=2)", "step counting from 1 over all epochs"),
    ),
    WrongAnswer(
        "B",
        "07.4",
        "empty-epoch-unchecked",
        "        if not examples:\n            raise ValueError(",
        "        if False:\n            raise ValueError(",
        ("fit(a generator of batches, epochs=2): raised ZeroDivisionError",),
    ),
    WrongAnswer(
        "A",
        "07.5",
        "wait-not-reset",
        "self.best, self.best_epoch, self.waited = loss, epoch, 0",
        "self.best, self.best_epoch = loss, epoch",
        ("the epoch after which EarlyStopping(patience=2) stops", "got 5; expected 6"),
    ),
    WrongAnswer(
        "B",
        "07.5",
        "stops-late",
        "if self.waited >= self.patience:",
        "if self.waited > self.patience:",
        ("the epoch after which EarlyStopping(patience=2) stops", "got 7; expected 6"),
    ),
    WrongAnswer(
        "A",
        "07.6",
        "suffix-not-added",
        '    if target.suffix != ".npz":\n        target = target.with_name(target.name + ".npz")\n',
        "",
        ("the path save_model returns for a name without .npz", "numpy adds .npz"),
    ),
    WrongAnswer(
        "B",
        "07.6",
        "state-not-loaded",
        "    model.load_state_dict(state)\n",
        "",
        ("0.weight after load_model: values differ", "model.load_state_dict"),
    ),
    WrongAnswer(
        "07.6-suffix",
        "07.6",
        "with-suffix",
        """    if target.suffix != ".npz":
        target = target.with_name(target.name + ".npz")""",
        """    target = target.with_suffix(".npz")""",
        (
            "save_model(model, 'run.v1'): the path returned, and whether it exists: got",
            "with_suffix would give 'run.npz'",
        ),
    ),
    WrongAnswer(
        "07.6-missing",
        "07.6",
        "missing-file-says-nothing-to-do",
        "save one first with save_model(model, '{source}'), or check the path",
        "it does not exist",
        ("load_model of a missing file: the FileNotFoundError says", "it should mention ['save_model']"),
    ),
    # Module 08: parse_idx is under load_mnist; TensorDataset and the DataLoader under the later tests: runs of their own,
    # paired where the two exercises do not build on each other.
    WrongAnswer(
        "08x",
        "08.1",
        "little-endian-sizes",
        'np.frombuffer(data, ">u4", count',
        'np.frombuffer(data, "<u4", count',
        ("parse_idx of 2 images of 3x4: raised DatasetError",),
    ),
    WrongAnswer(
        "08y",
        "08.1",
        "header-not-skipped",
        "    return np.frombuffer(data, np.uint8, offset=header_size)",
        "    return np.frombuffer(data, np.uint8, offset=4)",
        ("parse_idx of 2 images of 3x4: raised ValueError",),
    ),
    WrongAnswer(
        "A",
        "08.2",
        "not-scaled",
        "        scaled /= 255\n",
        "",
        ("the smallest and largest pixel of X_train: values differ", "divide the bytes 0..255 by 255"),
    ),
    WrongAnswer(
        "B",
        "08.2",
        "labels-uint8",
        "train_labels.astype(np.int64)",
        "train_labels",
        ("the dtypes of X_train and y_train", "labels int64"),
    ),
    WrongAnswer(
        "08x",
        "08.3",
        "lengths-unchecked",
        "        if len(set(lengths)) > 1:\n            raise ValueError(",
        "        if False:\n            raise ValueError(",
        ("TensorDataset of 5 images and 4 labels: returned without an error",),
    ),
    WrongAnswer(
        "08y",
        "08.3",
        "list-not-tuple",
        "return tuple([array[index] for array in self.arrays])",
        "return [array[index] for array in self.arrays]",
        ("dataset[2]: got a list; expected a tuple", "a tuple with one entry per array"),
    ),
    WrongAnswer(
        "08z",
        "08.4",
        "floor-always",
        "        return math.ceil(len(self.dataset) / self.batch_size)\n",
        "        return len(self.dataset) // self.batch_size\n",
        ("len(DataLoader(10 examples, batch_size=4)): got 2; expected 3", "the last, smaller batch counts"),
    ),
    WrongAnswer(
        "08w",
        "08.4",
        "no-generator",
        "        self.rng = np.random.default_rng(seed)\n",
        "        self.seed = seed\n",
        ("'DataLoader' object has no attribute 'rng'",),
    ),
    WrongAnswer(
        "08v",
        "08.5",
        "reseeded-every-epoch",
        "order = self.rng.permutation(count)",
        "order = np.random.default_rng(0).permutation(count)",
        ("two epochs of one shuffling loader: got False; expected True", "do not re-seed in __iter__"),
    ),
    WrongAnswer(
        "08u",
        "08.5",
        "drop-last-ignored",
        "        if self.drop_last and len(indices) < self.batch_size:\n            return\n",
        "",
        ("the number of batches with drop_last: got 3; expected 2", "stop before the incomplete batch"),
    ),
    WrongAnswer(
        "A",
        "08.6",
        "split-in-order",
        "order = np.random.default_rng(seed).permutation(len(dataset))",
        "order = np.arange(len(dataset))",
        (
            "the first part is a random choice, not the first 7: got False; expected True",
            "permute the indices before cutting",
        ),
    ),
    WrongAnswer(
        "B",
        "08.6",
        "lengths-unchecked",
        "    if sum(lengths) != len(dataset):\n        raise ValueError(",
        "    if False:\n        raise ValueError(",
        ("random_split of 10 examples into [5, 4]: returned without an error",),
    ),
    # A second round on a student's copy: 78 wrong answers that passed before, and 08.2's float64 detour
    WrongAnswer(
        "D",
        "02.1",
        "mul-mask",
        "        return Tensor.from_numpy(np.maximum(x.data, 0))\n",
        "        return Tensor(x.data * (x.data > 0))\n",
        (
            "ReLU()(Tensor([nan, -inf, inf]))",
            "a mask or a comparison turns nan into 0, and -inf * 0 is nan",
        ),
    ),
    WrongAnswer(
        "E",
        "02.1",
        "where-nan",
        "        return Tensor.from_numpy(np.maximum(x.data, 0))\n",
        "        return Tensor(np.where(x.data > 0, x.data, 0))\n",
        (
            "ReLU()(Tensor([nan, -inf, inf]))",
            "a mask or a comparison turns nan into 0, and -inf * 0 is nan",
        ),
    ),
    WrongAnswer(
        "D",
        "02.2",
        "class-attr",
        "        self.negative_slope = float(negative_slope)\n",
        "        LeakyReLU.negative_slope = float(negative_slope)\n",
        (
            "LeakyReLU().negative_slope after a LeakyReLU(negative_slope=0.2) was made",
            "store the setting on the object (self.negative_slope), not on the class: each LeakyReLU keeps its own",
        ),
    ),
    WrongAnswer(
        "E",
        "02.2",
        "maximum-form",
        "        return Tensor(np.where(x.data > 0, x.data, self.negative_slope * x.data))\n",
        "        return Tensor(np.maximum(x.data, self.negative_slope * x.data))\n",
        (
            "LeakyReLU(2.0)(Tensor([-1.0, 3.0])): a slope above 1",
            "choose by the sign of x: the larger of x and slope * x is the wrong side when the slope is above 1",
        ),
    ),
    WrongAnswer(
        "D",
        "02.3",
        "one-minus",
        "        return Tensor(np.where(x.data >= 0, 1 / (1 + z), z / (1 + z)))\n",
        "        return Tensor(np.where(x.data >= 0, 1 / (1 + z), 1 - 1 / (1 + z)))\n",
        (
            "Sigmoid()(Tensor([-20.0, -30.0, -80.0])): tiny outputs",
            "z / (1 + z) keeps small outputs' precision; 1 - 1 / (1 + z) rounds them to 0 (1 + z is 1 in float32)",
        ),
    ),
    WrongAnswer(
        "D",
        "02.4",
        "nan-to-num",
        "        return Tensor(np.tanh(x.data))\n",
        "        with np.errstate(all='ignore'):\n            e = np.exp(2 * x.data.astype(np.float64))\n            return Tensor(np.nan_to_num((e - 1) / (e + 1), nan=1.0))\n",
        (
            "Tanh()(Tensor([-1000, -50, 0, 50, 1000]))",
            "exp(1000) overflows to inf even where its warning is silenced: use np.tanh, or 2 * sigmoid(2x) - 1",
        ),
    ),
    WrongAnswer(
        "03.1-dedupe-direct-only",
        "03.1",
        "dedupe-direct-only",
        "                listed.add(id(parameter))\n                found.append((full_name, parameter))\n",
        "                found.append((full_name, parameter))\n            if isinstance(value, Module):\n                listed.add(id(parameter))\n",
        (
            "one parameter tensor held under two attribute names",
            "skip any tensor whose id was listed, also one that is a direct attribute, not only those inside sub-modules",
        ),
    ),
    WrongAnswer(
        "03.1-one-level",
        "03.1",
        "one-level",
        '            candidates = [(f"{name}.{inner}", parameter) for inner, parameter in value.named_parameters()]\n',
        '            candidates = [(f"{name}.{inner}", parameter) for inner, parameter in vars(value).items() if isinstance(parameter, Tensor) and parameter.requires_grad]\n',
        (
            "a module holding a Tree: parameters two levels down",
            "call named_parameters() on each sub-module: it walks its own sub-modules in turn, to any depth",
        ),
    ),
    WrongAnswer(
        "D",
        "03.2",
        "train-one-level",
        "        child.train(mode)\n",
        "        child.training = mode\n",
        (
            "training flags of outer, outer.tree, outer.tree.left after outer.eval()",
            "call child.train(mode) on each child, which reaches the grandchildren in turn (setting child.training stops one level down)",
        ),
    ),
    WrongAnswer(
        "D",
        "03.3",
        "len-shape",
        "        if arrays[name].shape != parameter.shape:\n",
        "        if len(arrays[name]) != len(parameter.data):\n",
        (
            "load_state_dict with 'right.weight' of shape (1, 1) for a (1,) parameter",
            "compare the whole shapes (array.shape != parameter.shape), not the number of elements: (1, 1) and (1,) both hold one",
        ),
    ),
    WrongAnswer(
        "E",
        "03.3",
        "load-alias",
        "        parameter.data[...] = arrays[name]\n",
        "        parameter.data = np.asarray(arrays[name], dtype=parameter.data.dtype)\n",
        (
            "tree.gain after the loaded dict's array was changed",
            "copy the numbers into the parameter (parameter.data[...] = array): .data = array would share the caller's array",
        ),
    ),
    WrongAnswer(
        "F",
        "03.3",
        "pop-callers-dict",
        "    arrays = {name: np.asarray(state[name]) for name in parameters}\n",
        "    arrays = {name: np.asarray(state.pop(name)) for name in parameters}\n",
        (
            "the keys of the dict passed to load_state_dict, after it",
            "read the state (state[name]), do not take from it (pop): the caller's dict stays as it was",
        ),
    ),
    WrongAnswer(
        "03.5-numpy-forward",
        "03.5",
        "numpy-forward",
        "    output = x @ self.weight\n    return output if self.bias is None else output + self.bias\n",
        "    output = x.data @ self.weight.data\n    return Tensor(output if self.bias is None else output + self.bias.data)\n",
        (
            "Linear(3, 2) on x",
            "compute x @ self.weight + self.bias with your Tensor operations: numpy on .data wrapped in a Tensor gives the numbers but nothing Module 05 can differentiate",
        ),
    ),
    WrongAnswer(
        "03.6-len-vars",
        "03.6",
        "len-vars",
        "        return sum(name.isdigit() for name in vars(self))\n",
        "        return len(vars(self))\n",
        (
            "len(net) after net.eval()",
            "count only the attributes named by a number: eval() adds 'training' to vars(net)",
        ),
    ),
    WrongAnswer(
        "03.6-modulo-index",
        "03.6",
        "modulo-index",
        "        return layers[index]\n",
        "        return layers[index % len(layers)]\n",
        (
            "net[3] of a Sequential of 3 layers",
            "an index outside -len(self)..len(self) - 1 is an IndexError: turn a negative index into len(self) + index, never wrap around with %",
        ),
    ),
    WrongAnswer(
        "D",
        "03.7",
        "pattern-indent",
        '    lines = [f"  ({index}): " + repr(layer).replace("\\n", "\\n  ") for index, layer in enumerate(self)]\n',
        '    lines = [f"  ({index}): " + repr(layer).replace("\\n  (", "\\n    (").replace("\\n)", "\\n  )") for index, layer in enumerate(self)]\n',
        (
            "repr of a Sequential nested three deep",
            "indent every later line of a layer's repr by two more spaces: .replace('\\n', '\\n  ')",
        ),
    ),
    WrongAnswer(
        "E",
        "03.7",
        "vars-items",
        '    lines = [f"  ({index}): " + repr(layer).replace("\\n", "\\n  ") for index, layer in enumerate(self)]\n',
        '    lines = [f"  ({index}): " + repr(layer).replace("\\n", "\\n  ") for index, layer in vars(self).items()]\n',
        (
            "repr of a Sequential after .eval()",
            "list the layers (iterate over self), not every attribute: eval() adds 'training'",
        ),
    ),
    WrongAnswer(
        "D",
        "04.1",
        "copy-paste-name",
        '        check_same_shape("MSELoss", prediction, target)\n',
        '        check_same_shape("L1Loss", prediction, target)\n',
        (
            "MSELoss() of a (4, 1) prediction and a (4,) target",
            "the message names the loss that raised it: MSELoss, not another loss's name",
        ),
    ),
    WrongAnswer(
        "D",
        "04.2",
        "max-label-msg",
        '        raise ValueError(f"one_hot: label {labels[outside][0]} is outside 0..{num_classes - 1} for num_classes={num_classes}")\n',
        '        raise ValueError(f"one_hot: label {labels.max()} is outside 0..{num_classes - 1} for num_classes={num_classes}")\n',
        (
            "one_hot([1, -1, 2, 7], 3)",
            "look below 0 as well as above num_classes - 1, and name the first label out of range in the order given (-1 here, before 7)",
        ),
    ),
    WrongAnswer(
        "04.3-ndim-lt2",
        "04.3",
        "ndim-lt2",
        "    if logits.ndim != 2:\n",
        "    if logits.ndim < 2:\n",
        (
            "class_indices with logits of shape (2, 3, 4)",
            "check logits.ndim == 2 before unpacking its shape, and say the shape expected, (N, C), and the one given",
        ),
    ),
    WrongAnswer(
        "04.3-no-int64",
        "04.3",
        "no-int64",
        "    return targets.astype(np.int64)\n",
        "    return targets\n",
        ("class_indices of uint8 labels", "convert to int64, whatever integer dtype came in"),
    ),
    WrongAnswer(
        "04.3-size-not-shape",
        "04.3",
        "size-not-shape",
        "    if targets.shape != (examples,):\n",
        "    if targets.size != examples:\n",
        (
            "class_indices of targets of shape (4, 1)",
            "integer targets hold one label per row, shape (N,): compare the shape, not the size, so a (4, 1) column is an error",
        ),
    ),
    WrongAnswer(
        "D",
        "05.2",
        "neg-inplace",
        "        return (-grad,)\n",
        "        grad *= -1\n        return (grad,)\n",
        (
            "-a: backward",
            "compute new arrays (`grad * b`, `-grad`), never into grad (no `grad *= ...`, `grad -= ...`): the engine may hand the same array to several nodes (a tensor used twice), or a read-only one (Sum's broadcast)",
        ),
    ),
    WrongAnswer(
        "E",
        "05.2",
        "sub-ignores-needs",
        "        return (unbroadcast(grad, a.shape) if needs_a else None, unbroadcast(-grad, b.shape) if needs_b else None)\n",
        "        return (unbroadcast(grad, a.shape), unbroadcast(-grad, b.shape))\n",
        (
            "a - 2.0 (a number as b): backward",
            "the number needs no gradient: None where self.needs_grad is False, as in Add",
        ),
    ),
    WrongAnswer(
        "D",
        "05.3",
        "div-data",
        "        # TODO: as Mul, with the quotient rule.\n        ### BEGIN SOLUTION\n        a, b = value_of(self.inputs[0]), value_of(self.inputs[1])\n",
        "        # TODO: as Mul, with the quotient rule.\n        ### BEGIN SOLUTION\n        a, b = self.inputs[0].data, self.inputs[1].data\n",
        (
            "a / 2.0 (a number as b): backward",
            "value_of(b) reads a number too (a number has no .data); its gradient is None",
        ),
    ),
    WrongAnswer(
        "E",
        "05.3",
        "mul-inplace-number",
        "        # TODO: each input's gradient is grad times the other input's values, un-broadcast.\n        ### BEGIN SOLUTION\n        a, b = value_of(self.inputs[0]), value_of(self.inputs[1])\n        needs_a, needs_b = self.needs_grad\n",
        "        # TODO: each input's gradient is grad times the other input's values, un-broadcast.\n        ### BEGIN SOLUTION\n        a, b = value_of(self.inputs[0]), value_of(self.inputs[1])\n        needs_a, needs_b = self.needs_grad\n        if not needs_b:\n            grad *= b\n            return (unbroadcast(grad, a.shape), None)\n",
        (
            "2.5 * a (a.__rmul__(2.5)): backward",
            "compute new arrays (`grad * b`, `-grad`), never into grad (no `grad *= ...`, `grad -= ...`): the engine may hand the same array to several nodes (a tensor used twice), or a read-only one (Sum's broadcast)",
        ),
    ),
    WrongAnswer(
        "D",
        "05.4",
        "exp-inplace",
        "        return (grad * self.output,)\n",
        "        grad *= self.output\n        return (grad,)\n",
        (
            "a.exp(): backward",
            "compute new arrays (`grad * b`, `-grad`), never into grad (no `grad *= ...`, `grad -= ...`): the engine may hand the same array to several nodes (a tensor used twice), or a read-only one (Sum's broadcast)",
        ),
    ),
    WrongAnswer(
        "E",
        "05.4",
        "pow-via-output",
        "        return (grad * exponent * a.data ** (exponent - 1), None)\n",
        "        return (grad * exponent * self.output / a.data, None)\n",
        ("a ** 2 at a = 0: backward", "compute n * a ** (n - 1) from the input: output / a divides by zero at a = 0"),
    ),
    WrongAnswer(
        "D",
        "05.5",
        "a-not-unbroadcast",
        "        grad_a = unbroadcast(grad2 @ np.swapaxes(b2, -1, -2), a2.shape) if needs_a else None\n",
        "        grad_a = grad2 @ np.swapaxes(b2, -1, -2) if needs_a else None\n",
        (
            "a @ y, shapes (3, 4) @ (2, 4, 2): a used by both batch elements",
            "either side can be broadcast over the batch axes: unbroadcast both gradients",
        ),
    ),
    WrongAnswer(
        "E",
        "05.5",
        "reshape-unguarded",
        "        if a.ndim == 1 and needs_a:  # back from the (1, K) row\n",
        "        if a.ndim == 1:  # back from the (1, K) row\n",
        (
            "v @ b with only b requiring grad (v an input vector): backward",
            "a's gradient is None when it is not needed: reshape it back only when it was computed",
        ),
    ),
    WrongAnswer(
        "D",
        "05.6",
        "keepdims-kw-only",
        '        return (spread(grad, x.shape, self.argument(1, "axis"), self.argument(2, "keepdims", False)),)\n',
        '        return (spread(grad, x.shape, self.argument(1, "axis"), self.options.get("keepdims", False)),)\n',
        (
            "x.sum(0, True): keepdims passed by position too: backward",
            "read keepdims with the given self.argument, which finds it whether it was passed by position or by name",
        ),
    ),
    WrongAnswer(
        "E",
        "05.6",
        "mean-inplace",
        '        return (spread(grad / count, x.shape, self.argument(1, "axis"), self.argument(2, "keepdims", False)),)\n',
        '        grad /= count\n        return (spread(grad, x.shape, self.argument(1, "axis"), self.argument(2, "keepdims", False)),)\n',
        (
            "x.mean(): backward",
            "compute new arrays (`grad * b`, `-grad`), never into grad (no `grad *= ...`, `grad -= ...`): the engine may hand the same array to several nodes (a tensor used twice), or a read-only one (Sum's broadcast)",
        ),
    ),
    WrongAnswer(
        "F",
        "05.6",
        "mean-shape-axis",
        "        count = x.size // self.output.size\n",
        "        axis = self.argument(1, 'axis')\n        count = x.size if axis is None else x.shape[axis]\n",
        (
            "c.mean(axis=(0, 1)), (2, 3, 4) -> (4,): backward",
            "axis may be a tuple: each mean averages x.size // output.size = 6 elements",
        ),
    ),
    WrongAnswer(
        "D",
        "05.7",
        "getitem-float64",
        "        result = np.zeros_like(x.data)\n",
        "        result = np.zeros(x.shape)\n",
        (
            "x[1]",
            "a gradient keeps its input's dtype: a float64 array (np.zeros(shape) without dtype=, a float64 constant or count) doubles the memory and time of every node it reaches; make arrays like the gradient (np.zeros_like, dtype=grad.dtype) or convert with .astype(grad.dtype, copy=False)",
        ),
    ),
    WrongAnswer(
        "E",
        "05.7",
        "transpose-tuple-only",
        "        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):\n",
        "        if len(axes) == 1 and isinstance(axes[0], tuple):\n",
        ("c.transpose([1, 2, 0])", "one tuple or list holds all the axes"),
    ),
    WrongAnswer(
        "D",
        "05.8",
        "leaky-ge",
        "        return (None, np.where(x.data > 0, grad, activation.negative_slope * grad))\n",
        "        return (None, np.where(x.data >= 0, grad, activation.negative_slope * grad))\n",
        (
            "LeakyReLU(0.2) at -1, 0, 2: its gradient for ones",
            "at exactly 0 the slope is negative_slope, as for every x <= 0: x > 0, not x >= 0",
        ),
    ),
    WrongAnswer(
        "D",
        "05.9",
        "logsoftmax-inplace",
        "        return (None, grad - np.exp(self.output) * grad.sum(axis=axis, keepdims=True))\n",
        "        grad -= np.exp(self.output) * grad.sum(axis=axis, keepdims=True)\n        return (None, grad)\n",
        (
            "LogSoftmax()(x), (3, 5): backward",
            "compute new arrays (`grad * b`, `-grad`), never into grad (no `grad *= ...`, `grad -= ...`): the engine may hand the same array to several nodes (a tensor used twice), or a read-only one (Sum's broadcast)",
        ),
    ),
    WrongAnswer(
        "E",
        "05.9",
        "softmax-inplace",
        "        return (None, s * (grad - (grad * s).sum(axis=axis, keepdims=True)))\n",
        "        grad -= (grad * s).sum(axis=axis, keepdims=True)\n        grad *= s\n        return (None, grad)\n",
        (
            "Softmax()(x), (3, 5): backward",
            "compute new arrays (`grad * b`, `-grad`), never into grad (no `grad *= ...`, `grad -= ...`): the engine may hand the same array to several nodes (a tensor used twice), or a read-only one (Sum's broadcast)",
        ),
    ),
    WrongAnswer(
        "D",
        "05.10",
        "bce-float64",
        "        slope = (grad * (probabilities - value_of(target)) / logits.size).astype(logits.dtype, copy=False)\n",
        "        slope = grad * (probabilities - value_of(target)) / logits.size\n",
        (
            "BCEWithLogitsLoss()(x, y)",
            "a gradient keeps its input's dtype: a float64 array (np.zeros(shape) without dtype=, a float64 constant or count) doubles the memory and time of every node it reaches; make arrays like the gradient (np.zeros_like, dtype=grad.dtype) or convert with .astype(grad.dtype, copy=False)",
        ),
    ),
    WrongAnswer(
        "E",
        "05.10",
        "bce-len",
        "        slope = (grad * (probabilities - value_of(target)) / logits.size).astype(logits.dtype, copy=False)\n",
        "        slope = (grad * (probabilities - value_of(target)) / len(logits.data)).astype(logits.dtype, copy=False)\n",
        (
            "BCEWithLogitsLoss() of (2, 3) logits",
            "the mean is over all n = logits.size elements, not over the rows (len)",
        ),
    ),
    WrongAnswer(
        "05.11-recursion-limit",
        "05.11",
        "recursion-limit-raised",
        WHOLE_SOLUTION,
        "    import sys\n    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))\n    order, visited = [], set()\n\n    def visit(tensor):\n        if id(tensor) in visited:\n            return\n        visited.add(id(tensor))\n        if tensor.grad_fn is not None:\n            for value in tensor.grad_fn.inputs:\n                if isinstance(value, Tensor) and value.requires_grad:\n                    visit(value)\n        order.append(tensor)\n\n    visit(root)\n    return order[::-1]\n",
        (
            "topological_order of a chain of 200 additions",
            "a recursive search nests one call per tensor, and raising the recursion limit only moves the wall: loop over your own stack",
        ),
    ),
    WrongAnswer(
        "05.12-ndim-not-size",
        "05.12",
        "ndim-not-size",
        "        if self.size != 1:\n",
        "        if self.ndim != 0:\n",
        (
            "backward() without a gradient on a loss of shape (1,)",
            "one element is a loss, whatever its shape: test self.size == 1, not ndim == 0",
        ),
    ),
    WrongAnswer(
        "05.12-no-shape-check",
        "05.12",
        "no-shape-check",
        "            if share.shape != value.data.shape:\n",
        "            if False:\n",
        (
            "backward through a rule (Misshapen) that returns a (1, 3) gradient for a (3,) input",
            "check each gradient a rule returns against its input's shape, and name the rule (the node's op) and both shapes",
        ),
    ),
    WrongAnswer(
        "05.12-start-dtype-kept",
        "05.12",
        "start-dtype-kept",
        '        grad = np.asarray(getattr(grad, "data", grad), dtype=self.dtype)\n',
        '        grad = np.asarray(getattr(grad, "data", grad))\n',
        (
            "a.grad.data.dtype after (a + 1.0).backward(np.array([1, 1, 1])), an integer gradient",
            "convert the starting gradient to the tensor's dtype: np.asarray(grad, dtype=self.dtype)",
        ),
    ),
    WrongAnswer(
        "05.13-depth-counter",
        "05.13",
        "depth-counter",
        '    def __enter__(self) -> "no_grad":\n        # TODO: remember GradMode.enabled, then set it to False.\n        ### BEGIN SOLUTION\n        self.previous = GradMode.enabled\n        GradMode.enabled = False\n        return self\n        ### END SOLUTION\n\n    def __exit__(self, *error) -> None:\n        # TODO: restore the remembered setting (error holds the exception, if any: let it propagate).\n        ### BEGIN SOLUTION\n        GradMode.enabled = self.previous\n        ### END SOLUTION',
        '    depth = 0\n\n    def __enter__(self) -> "no_grad":\n        # TODO: remember GradMode.enabled, then set it to False.\n        no_grad.depth += 1\n        GradMode.enabled = False\n        return self\n\n    def __exit__(self, *error) -> None:\n        # TODO: restore the remembered setting (error holds the exception, if any: let it propagate).\n        no_grad.depth -= 1\n        if no_grad.depth == 0:\n            GradMode.enabled = True\n',
        (
            "GradMode.enabled after a no_grad block entered with recording already off",
            "restore what was there when the block started, not always True",
        ),
    ),
    WrongAnswer(
        "05.13-exit-swallows",
        "05.13",
        "exit-swallows",
        "        GradMode.enabled = self.previous\n",
        "        GradMode.enabled = self.previous\n        return True\n",
        (
            "a KeyError raised inside with no_grad(): it must reach the caller (__exit__ returns None)",
            "__exit__ restores the setting and returns None: returning True swallows the exception",
        ),
    ),
    WrongAnswer(
        "05.13-previous-in-init",
        "05.13",
        "previous-in-init",
        '    def __enter__(self) -> "no_grad":\n        # TODO: remember GradMode.enabled, then set it to False.\n        ### BEGIN SOLUTION\n        self.previous = GradMode.enabled\n',
        '    def __init__(self) -> None:\n        self.previous = GradMode.enabled\n\n    def __enter__(self) -> "no_grad":\n        # TODO: remember GradMode.enabled, then set it to False.\n        ### BEGIN SOLUTION\n',
        (
            "GradMode.enabled after a no_grad object made earlier is used inside another no_grad block",
            "remember the setting in __enter__, when the block starts, not in __init__",
        ),
    ),
    WrongAnswer(
        "05.14-first-not-worst",
        "05.14",
        "first-not-worst",
        "                worst = np.unravel_index(np.argmax(excess), x.shape)\n",
        "                worst = tuple(np.argwhere(excess > 0)[0])\n",
        (
            "gradcheck of a rule off at (0, 0) by 1% and at (1, 2) by 50%",
            "report the element with the largest relative error, not the first one off",
        ),
    ),
    WrongAnswer(
        "05.14-ones-weights",
        "05.14",
        "ones-weights",
        "        weights = np.random.default_rng(0).normal(size=output.shape)\n",
        "        weights = np.ones(output.shape)\n",
        (
            "gradcheck of x.T with a rule that reshapes the gradient instead of transposing it",
            "weigh the output with random weights, sum(w * f(x)): with weights of ones a rearranged gradient sums to the same numbers",
        ),
    ),
    WrongAnswer(
        "05.14-restore-float32",
        "05.14",
        "restore-float32",
        "        Tensor.float_dtype = previous\n",
        "        Tensor.float_dtype = np.float32\n",
        (
            "Tensor.float_dtype after a gradcheck run while it was float64",
            "restore the value it had before (previous = Tensor.float_dtype), not float32",
        ),
    ),
    WrongAnswer(
        "06.1-alias-callers-list",
        "06.1",
        "alias-callers-list",
        "        params = list(params)\n",
        "        params = params if isinstance(params, list) else list(params)\n",
        (
            "optimizer.params after the caller removed a parameter from the list it passed",
            "store a list of your own, list(params), even when params is a list already",
        ),
    ),
    WrongAnswer(
        "06.1-empty-check-before-list",
        "06.1",
        "empty-check-before-list",
        "        params = list(params)\n        if not params:\n",
        '        if not params:\n            raise ValueError("the optimizer got an empty parameter list: pass model.parameters() of a model that has parameters")\n        params = list(params)\n        if False:\n',
        (
            "Optimizer(an empty generator, lr=0.1)",
            "make the list first (list(params)), then test that it is empty: a generator is truthy even when it yields nothing",
        ),
    ),
    WrongAnswer(
        "D",
        "06.2",
        "filtered-positions",
        "        for position, param in enumerate(self.params):\n            if param.grad is None:\n                continue\n",
        "        for position, param in enumerate([p for p in self.params if p.grad is not None]):\n",
        (
            "SGD([a, b], lr=0.1, momentum=0.9): a, whose first gradient comes at the second step",
            "keep each parameter's state under its position in self.params (enumerate(self.params)), skipping the ones without a gradient inside the loop",
        ),
    ),
    WrongAnswer(
        "D",
        "06.3",
        "eps-inside-sqrt",
        "            param.data -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)\n",
        "            param.data -= self.lr * m_hat / np.sqrt(v_hat + self.eps)\n",
        (
            "Adam(lr=0.1)",
            "eps is added to the square root, sqrt(v_hat) + eps, not inside it: sqrt(v_hat + eps) is far larger than a small gradient",
        ),
    ),
    WrongAnswer(
        "E",
        "06.3",
        "filtered-positions",
        "        for position, param in enumerate(self.params):\n            if param.grad is None:\n                continue\n",
        "        for position, param in enumerate([p for p in self.params if p.grad is not None]):\n",
        (
            "Adam([a, b]): a, first updated at the optimizer's third step, after b's two",
            "keep each parameter's state under its position in self.params (enumerate(self.params)), skipping the ones without a gradient inside the loop",
        ),
    ),
    WrongAnswer(
        "F",
        "06.3",
        "float64-state",
        "            m = self.m.setdefault(position, np.zeros_like(param.data))\n            v = self.v.setdefault(position, np.zeros_like(param.data))\n",
        "            m = self.m.setdefault(position, np.zeros(param.shape))\n            v = self.v.setdefault(position, np.zeros(param.shape))\n",
        (
            "the dtypes of m and v of a float32 parameter",
            "start the state at zeros of the parameter's shape and dtype (np.zeros_like(p.data))",
        ),
    ),
    WrongAnswer(
        "D",
        "06.4",
        "float32-norm",
        "    norm = float(np.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads)))\n",
        "    norm = float(np.sqrt(sum((g ** 2).sum() for g in grads)))\n",
        (
            "clip_grad_norm of float32 gradients [3e19, 0] and [[4e19]]",
            "square in float64: 3e19 squared overflows float32 to inf",
        ),
    ),
    WrongAnswer(
        "E",
        "06.4",
        "two-passes",
        "    # TODO: the norm over every element of every gradient; if above max_norm, multiply each .grad.data\n    # in place by max_norm / (norm + 1e-6).\n    ### BEGIN SOLUTION\n    grads = [param.grad.data for param in params if param.grad is not None]\n    norm = float(np.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads)))\n    if norm > max_norm:\n        for g in grads:\n            g *= max_norm / (norm + 1e-6)\n    return norm\n    ### END SOLUTION",
        "    total = 0.0\n    for param in params:\n        if param.grad is not None:\n            total += float((param.grad.data.astype(np.float64) ** 2).sum())\n    norm = float(np.sqrt(total))\n    if norm > max_norm:\n        for param in params:\n            if param.grad is not None:\n                param.grad.data *= max_norm / (norm + 1e-6)\n    return norm\n",
        (
            "a.grad after clipping a generator of parameters",
            "make a list first, then measure and scale the same gradients",
        ),
    ),
    WrongAnswer(
        "D",
        "06.5",
        "multiplicative",
        "        self.optimizer.lr = self.base_lr * self.gamma ** (self.epoch // self.step_size)\n",
        "        if self.epoch % self.step_size == 0:\n            self.optimizer.lr *= self.gamma\n",
        (
            "the lr after a 7th scheduler.step(), when optimizer.lr had been set by hand to 123",
            "lr = base_lr * gamma ** (epoch // step_size) from the lr remembered at the start, not the current lr times gamma",
        ),
    ),
    WrongAnswer(
        "07.1-len-check",
        "07.1",
        "len-check",
        "    if scores.ndim != 2 or targets.shape != (scores.shape[0],):\n",
        "    if len(targets) != len(scores):\n",
        (
            "accuracy with labels of shape (4, 1)",
            "compare labels.shape with (N,) exactly: a (4, 1) column has the right length, but compared with (N,) predictions it broadcasts to an (N, N) table",
        ),
    ),
    WrongAnswer(
        "07.2-zero-grad-after-backward",
        "07.2",
        "zero-grad-after-backward",
        "    self.optimizer.zero_grad()\n    logits = self.model(inputs)\n    loss = self.loss_fn(logits, y)\n    loss.backward()\n    self.optimizer.step()\n",
        "    logits = self.model(inputs)\n    loss = self.loss_fn(logits, y)\n    loss.backward()\n    self.optimizer.step()\n    self.optimizer.zero_grad()\n",
        (
            "parameter 0.weight after one train_step (with old gradients left in .grad before it)",
            "zero_grad, forward, loss, backward, step, in this order: zero_grad first clears what earlier code left",
        ),
    ),
    WrongAnswer(
        "07.3-always-train",
        "07.3",
        "always-train",
        "        self.model.train(was_training)\n",
        "        self.model.train()\n",
        (
            "model.training after evaluate of a model in eval mode",
            "restore the mode it had (model.train(was_training)), not always training",
        ),
    ),
    WrongAnswer(
        "07.3-empty-by-truthiness",
        "07.3",
        "empty-by-truthiness",
        '    was_training = self.model.training\n    self.model.eval()\n    total_loss = total_metric = examples = 0.0\n    try:\n        with no_grad():\n            for x, y in batches:\n                inputs = x if isinstance(x, Tensor) else Tensor(x)\n                logits = self.model(inputs)\n                size = len(inputs)\n                total_loss += self.loss_fn(logits, y).item() * size\n                total_metric += self.measure(logits, y) * size\n                examples += size\n    finally:\n        self.model.train(was_training)\n    if not examples:\n        raise ValueError("Trainer.evaluate: the batches were empty; pass a list or a DataLoader with at least one batch")\n',
        "    if not batches:\n        raise ValueError('Trainer.evaluate: no batches, the iterable is empty')\n    was_training = self.model.training\n    self.model.eval()\n    total_loss = total_metric = examples = 0.0\n    try:\n        with no_grad():\n            for x, y in batches:\n                inputs = x if isinstance(x, Tensor) else Tensor(x)\n                logits = self.model(inputs)\n                size = len(inputs)\n                total_loss += self.loss_fn(logits, y).item() * size\n                total_metric += self.measure(logits, y) * size\n                examples += size\n    finally:\n        self.model.train(was_training)\n",
        (
            "trainer.evaluate(an empty generator)",
            "count the examples as you go and raise the ValueError when there were none: a generator is truthy even when it yields nothing",
        ),
    ),
    WrongAnswer(
        "D",
        "07.4",
        "no-fit-end-on-stop",
        "            break\n",
        "            return history\n",
        (
            "the last callback call of a fit that a callback stopped",
            "leave the epoch loop (break), then call on_fit_end: a callback such as EarlyStopping restores the best weights there",
        ),
    ),
    WrongAnswer(
        "E",
        "07.4",
        "unweighted-accuracy",
        '        for x, y in train_batches:\n            loss, metric = self.train_step(x, y)\n            step += 1\n            size = len(x)\n            total_loss, total_metric, examples = total_loss + loss * size, total_metric + metric * size, examples + size\n            history["step_loss"].append(loss)\n            self.notify(callbacks, "on_step_end", step, loss)\n        if not examples:\n            raise ValueError(\n                f"Trainer.fit: epoch {epoch} had no batches. Pass a list of batches or a DataLoader, which can be "\n                "iterated once per epoch; a generator is used up after the first epoch."\n            )\n        history["loss"].append(total_loss / examples)\n        history["accuracy"].append(total_metric / examples)\n',
        '        history_metrics = []\n        for x, y in train_batches:\n            loss, metric = self.train_step(x, y)\n            step += 1\n            size = len(x)\n            total_loss, total_metric, examples = total_loss + loss * size, total_metric + metric * size, examples + size\n            history["step_loss"].append(loss)\n            history_metrics.append(metric)\n            self.notify(callbacks, "on_step_end", step, loss)\n        if not examples:\n            raise ValueError(\n                f"Trainer.fit: epoch {epoch} had no batches. Pass a list of batches or a DataLoader, which can be "\n                "iterated once per epoch; a generator is used up after the first epoch."\n            )\n        history["loss"].append(total_loss / examples)\n        history["accuracy"].append(float(np.mean(history_metrics)))\n',
        (
            "the epoch metric of a fit whose metric is each batch's size (4, 4 and 2)",
            "the mean over examples, weighted by batch size like the loss: (4 * 4 + 4 * 4 + 2 * 2) / 10",
        ),
    ),
    WrongAnswer(
        "F",
        "07.4",
        "val-before-epoch",
        '        total_loss = total_metric = examples = 0.0\n        for x, y in train_batches:\n            loss, metric = self.train_step(x, y)\n            step += 1\n            size = len(x)\n            total_loss, total_metric, examples = total_loss + loss * size, total_metric + metric * size, examples + size\n            history["step_loss"].append(loss)\n            self.notify(callbacks, "on_step_end", step, loss)\n        if not examples:\n            raise ValueError(\n                f"Trainer.fit: epoch {epoch} had no batches. Pass a list of batches or a DataLoader, which can be "\n                "iterated once per epoch; a generator is used up after the first epoch."\n            )\n        history["loss"].append(total_loss / examples)\n        history["accuracy"].append(total_metric / examples)\n        if val_batches is not None:\n            measured = self.evaluate(val_batches)\n',
        '        if val_batches is not None:\n            measured = self.evaluate(val_batches)\n        total_loss = total_metric = examples = 0.0\n        for x, y in train_batches:\n            loss, metric = self.train_step(x, y)\n            step += 1\n            size = len(x)\n            total_loss, total_metric, examples = total_loss + loss * size, total_metric + metric * size, examples + size\n            history["step_loss"].append(loss)\n            self.notify(callbacks, "on_step_end", step, loss)\n        if not examples:\n            raise ValueError(\n                f"Trainer.fit: epoch {epoch} had no batches. Pass a list of batches or a DataLoader, which can be "\n                "iterated once per epoch; a generator is used up after the first epoch."\n            )\n        history["loss"].append(total_loss / examples)\n        history["accuracy"].append(total_metric / examples)\n        if val_batches is not None:\n',
        (
            "the last val_loss of fit, against evaluate(val_batches) after it",
            "validate at the end of each epoch, after its steps: the weights the epoch ends with",
        ),
    ),
    WrongAnswer(
        "D",
        "07.5",
        "delta-wrong-sign",
        "        if loss < self.best - self.min_delta:\n",
        "        if loss < self.best + self.min_delta:\n",
        (
            "the epoch EarlyStopping(patience=2, min_delta=0.1) stops after for val_loss 1.0, 0.95, 0.92, ...",
            "an improvement is lower than best - min_delta: 0.95 and 0.92 are not 0.1 better than 1.0",
        ),
    ),
    WrongAnswer(
        "E",
        "07.5",
        "le-improvement",
        "        if loss < self.best - self.min_delta:\n",
        "        if loss <= self.best - self.min_delta:\n",
        (
            "the epoch EarlyStopping(patience=2) stops after for a flat val_loss 1.0, 1.0, 1.0, ...",
            "an improvement is lower than the best: an equal loss is none",
        ),
    ),
    WrongAnswer(
        "F",
        "07.5",
        "not-fresh",
        '        self.best, self.best_epoch, self.best_state, self.waited = float("inf"), None, None, 0\n',
        '        if not hasattr(self, "best"):\n            self.best, self.best_epoch, self.best_state = float("inf"), None, None\n        self.waited = 0\n',
        (
            "(the epoch it stopped after, best_epoch) for a second fit's val_loss 2.0, 1.9, 1.8 (the first fit's best was 0.5)",
            "on_fit_start starts fresh every fit: best = infinity, best_epoch = None, best_state = None, waited = 0",
        ),
    ),
    WrongAnswer(
        "G",
        "07.5",
        "restore-ignores-flag",
        "        if self.restore_best and self.best_state is not None:\n",
        "        if self.best_state is not None:\n",
        (
            "the weights after on_fit_end with restore_best=False",
            "load the best weights back only when restore_best is True",
        ),
    ),
    WrongAnswer(
        "08.1-allow-trailing",
        "08.1",
        "allow-trailing",
        "    if len(data) != expected_length:\n",
        "    if len(data) < expected_length:\n",
        (
            "parse_idx of a file one byte too long",
            "the data after the header is exactly prod(shape) bytes: too many is as damaged as too few",
        ),
    ),
    WrongAnswer(
        "D",
        "08.2",
        "float64",
        "        scaled = images.astype(np.float32)\n        scaled /= 255\n        return scaled\n",
        "        return (images / 255).astype(np.float32)\n",
        (
            "load_mnist()'s peak memory",
            "make one float32 copy and scale it in place: images.astype(np.float32), then /= 255; images / 255 first makes a float64 array of 376 MB",
        ),
    ),
    WrongAnswer(
        "E",
        "08.2",
        "scale-by-max",
        "        scaled /= 255\n",
        "        scaled /= scaled.max()\n",
        (
            "255 times the brightest pixel of a miniature MNIST whose brightest byte is 200",
            "divide by 255, the largest value a byte can hold, not by the brightest pixel found",
        ),
    ),
    WrongAnswer(
        "08.3-two-arrays-only",
        "08.3",
        "two-arrays-only",
        "        lengths = [len(array) for array in self.arrays]\n        if len(set(lengths)) > 1:\n",
        "        lengths = [len(self.arrays[0]), len(self.arrays[1])]\n        if lengths[0] != lengths[1]:\n",
        (
            "TensorDataset of arrays of lengths 5, 5 and 3",
            "every array must have the first one's length: check them all, not only the first two",
        ),
    ),
    WrongAnswer(
        "08.4-seed-or-zero",
        "08.4",
        "seed-or-zero",
        "        self.rng = np.random.default_rng(seed)\n",
        "        self.rng = np.random.default_rng(seed if seed is not None else 0)\n",
        (
            "two loaders made without a seed",
            "np.random.default_rng(seed) with seed None draws a fresh seed: do not replace None by a fixed number",
        ),
    ),
    WrongAnswer(
        "08.4-zero-only-check",
        "08.4",
        "zero-only-check",
        "        if batch_size < 1:\n",
        "        if batch_size == 0:\n",
        ("DataLoader(batch_size=-4)", "batch_size must be a positive integer: reject negative sizes too, not only 0"),
    ),
    WrongAnswer(
        "08.5-slice-view",
        "08.5",
        "slice-view",
        "        indices = order[start:start + self.batch_size]\n        if self.drop_last and len(indices) < self.batch_size:\n",
        "        indices = order[start:start + self.batch_size] if self.shuffle else slice(start, start + self.batch_size)\n        if self.drop_last and start + self.batch_size > count:\n",
        (
            "the first batch's images and the dataset's",
            "gather with the index array, dataset[order[start:stop]], which copies: a slice is a view, and changing the batch would change the dataset",
        ),
    ),
    WrongAnswer(
        "D",
        "08.6",
        "global-seed",
        "    order = np.random.default_rng(seed).permutation(len(dataset))\n",
        "    np.random.seed(seed)\n    order = np.random.permutation(len(dataset))\n",
        (
            "numpy's global random state after random_split",
            "use a generator of your own, np.random.default_rng(seed), not np.random.seed and np.random.permutation",
        ),
    ),
    WrongAnswer(
        "E",
        "08.6",
        "start-typo",
        "    edges = np.cumsum([0, *lengths])\n    return [Subset(dataset, order[start:stop]) for start, stop in zip(edges[:-1], edges[1:])]\n",
        "    parts, start = [], 0\n    for length in lengths:\n        parts.append(Subset(dataset, order[start:start + length]))\n        start = length\n    return parts\n",
        (
            "the labels of random_split(10 examples, [5, 3, 2]) together",
            "cut the permutation at the running totals of the lengths: 0-5, 5-8, 8-10",
        ),
    ),
    WrongAnswer(
        "D",
        "02.5",
        "sum-expanded-at-the-end",
        "exponentials / exponentials.sum(axis=self.axis, keepdims=True)",
        "exponentials / np.expand_dims(exponentials.sum(axis=self.axis), -1)",
        ("Softmax(axis=0)(x): raised ValueError", "keepdims=True keeps the summed axis, whichever it is"),
    ),
    WrongAnswer(
        "D",
        "04.6",
        "shapes-unchecked",
        '        check_same_shape("BCEWithLogitsLoss", prediction, target)\n',
        "",
        (
            "BCEWithLogitsLoss() of (4, 1) against (4,): returned without an error",
            "check that the shapes are equal first",
        ),
    ),
]

# Answers the text allows without prescribing them: they must pass, or text and tests disagree.
RIGHT_ANSWERS = [
    WrongAnswer(
        "C",
        "01.9",
        "index-not-unwrapped",
        "    if isinstance(index, tuple):\n        index = tuple([_unwrap(part) for part in index])\n    else:\n        index = _unwrap(index)\n",
        "",
        (),
    ),
    WrongAnswer(
        "C",
        "01.1",
        "float32-by-astype-copy",
        "array = array.astype(Tensor.float_dtype, copy=False)",
        "array = array.astype(Tensor.float_dtype)",
        (),
    ),
    WrongAnswer(
        "R",
        "02.4",
        "tanh-from-sigmoid",
        "return Tensor(np.tanh(x.data))",
        "return Tensor(2 * Sigmoid()(Tensor(2 * x.data)).data - 1)",
        (),
    ),
    WrongAnswer(
        "R",
        "05.4",
        "exp-recomputed",
        "return (grad * self.output,)",
        "return (grad * np.exp(self.inputs[0].data),)",
        (),
    ),
    WrongAnswer(
        "R",
        "05.10",
        "softmax-written-out",
        "x = logits.data\n        gradient = np.exp(x - x.max(axis=1, keepdims=True))\n        gradient /= gradient.sum(axis=1, keepdims=True)\n",
        "gradient = Softmax()(Tensor(logits.data)).data  # your Module 02 softmax: a fresh array\n",
        (),
    ),
    WrongAnswer(
        "R",
        "02.1",
        "relu-by-clip",
        "return Tensor.from_numpy(np.maximum(x.data, 0))",
        "return Tensor(np.clip(x.data, 0, None))",
        (),
    ),
]


def solutions(module: Module) -> dict[str, str]:
    """{exercise: reference source} of the exercise cells of the module's source notebook."""
    return {exercise_id(grade_id): source for grade_id, source in reference_answers(module).items()}


def notebook_with(module: Module, answers: dict[str, str], folder: Path) -> Path:
    """The module's released notebook with each exercise cell replaced by the given answer."""
    by_grade_id = {"ex_" + number.replace(".", "_"): source for number, source in answers.items()}
    notebook = answered(released_notebook(module), by_grade_id)
    # the demonstrations and timings decide nothing a test reports (grading skips them too)
    notebook["cells"] = [cell for cell in notebook["cells"] if not is_demonstration(cell)]
    path = folder / module.notebook_name
    path.write_text(json.dumps(notebook))
    return path


@pytest.fixture(scope="module")
def results_of_run(tmp_path_factory: pytest.TempPathFactory, reference_path: str):
    """(module number, run name) -> {exercise: result}, each run executed once, when first asked for.
    The kernels import the reference of the earlier modules, as when grading."""
    cache: dict[tuple[int, str], dict[str, ExerciseResult]] = {}

    def execute(module: Module, run: str, folder: Path) -> dict:
        answers = solutions(module)
        for change in (w for w in WRONG_ANSWERS + RIGHT_ANSWERS if w.run == run and w.module == module):
            answers[change.exercise] = rewritten(answers[change.exercise], change.old, change.new, change.id)
        return run_notebook(notebook_with(module, answers, folder), env={"PYTHONPATH": reference_path})

    def results(module: Module, run: str) -> dict[str, ExerciseResult]:
        if (module.number, run) not in cache:  # every run of the module, two kernels at a time
            runs = sorted({w.run for w in WRONG_ANSWERS + RIGHT_ANSWERS if w.module == module})
            folders = [tmp_path_factory.mktemp(f"{module.slug}-{name}") for name in runs]  # made here, not in threads
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                done = dict(
                    zip(runs, pool.map(lambda name, folder: execute(module, name, folder), runs, folders), strict=True)
                )
            # judged here, not in the threads: CPython 3.11's ast.parse is not safe in two threads at once
            # ("AST constructor recursion depth mismatch")
            for name, executed in done.items():
                cache[module.number, name] = {result.exercise: result for result in exercise_results(executed)}
        return cache[module.number, run]

    return results


@pytest.mark.parametrize("wrong", WRONG_ANSWERS, ids=[w.id for w in WRONG_ANSWERS])
def test_wrong_answer_fails_with_the_hint_that_names_the_mistake(wrong: WrongAnswer, results_of_run) -> None:
    result = results_of_run(wrong.module, wrong.run)[wrong.exercise]
    assert result.status == "failed", result
    for fragment in wrong.expected:
        assert fragment in result.detail, f"{wrong.id}: expected {fragment!r} in the report, got {result.detail!r}"


def test_each_exercise_has_two_wrong_answers_tried() -> None:
    for module in (
        m for m in load_modules(ROOT) if m.notebook(ROOT, SOURCE_DIR).exists()
    ):  # every module written, not only those listed here
        counts = {number: sum(w.exercise == number for w in WRONG_ANSWERS) for number in solutions(module)}
        assert all(count >= 2 for count in counts.values()), counts


@pytest.mark.parametrize(
    "module_and_run", sorted({(w.module.number, w.run) for w in WRONG_ANSWERS if len(w.run) == 1}), ids=str
)
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

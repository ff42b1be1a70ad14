"""Correct answers the exercise texts allow that are not the reference's: each is the reference
solution with one passage written another way (numpy's functions for its operators, another stable
formula, another loop). tests/test_alternative_library.py assembles a whole library from them."""

from __future__ import annotations

from dataclasses import dataclass

from helpers import WHOLE_SOLUTION


@dataclass(frozen=True)
class Alternative:
    exercise: str  # "01.2"
    old: str  # text of the reference solution (or WHOLE_SOLUTION) ...
    new: str  # ... written this way instead


ALTERNATIVES = [
    # Module 01
    Alternative("01.1", 'floating = array.dtype.kind == "f"', "floating = np.issubdtype(array.dtype, np.floating)"),
    Alternative("01.1", "array = np.array(data)  #", "array = np.array(data, copy=True)  #"),
    Alternative(
        "01.2", "return Tensor(self.data - _unwrap(other))", "return Tensor(np.subtract(self.data, _unwrap(other)))"
    ),
    Alternative(
        "01.2", "return Tensor(self.data * _unwrap(other))", "return Tensor(np.multiply(self.data, _unwrap(other)))"
    ),
    Alternative(
        "01.2", "return Tensor(_unwrap(other) / self.data)", "return Tensor(np.true_divide(_unwrap(other), self.data))"
    ),
    Alternative("01.3", "return Tensor(-self.data)", "return Tensor(np.negative(self.data))"),
    Alternative("01.3", "return Tensor(self.data ** exponent)", "return Tensor(np.power(self.data, exponent))"),
    Alternative("01.4", "product = left @ right", "product = np.matmul(left, right)"),
    Alternative("01.4", "return Tensor(other) @ self", "return Tensor(np.asarray(_unwrap(other))) @ self"),
    Alternative(
        "01.5",
        "return Tensor(self.data.sum(axis=axis, keepdims=keepdims))",
        "return Tensor(np.sum(self.data, axis=axis, keepdims=keepdims))",
    ),
    Alternative(
        "01.6",
        "return Tensor(self.data.max(axis=axis, keepdims=keepdims))",
        "return Tensor(np.amax(self.data, axis=axis, keepdims=keepdims))",
    ),
    Alternative(
        "01.6",
        "    total = self.data.sum(axis=axis, keepdims=keepdims)\n    return Tensor(total / (self.data.size // max(total.size, 1)))",
        "    return Tensor(np.mean(self.data, axis=axis, keepdims=keepdims))",
    ),
    Alternative("01.7", "reshaped = self.data.reshape(shape)", "reshaped = np.reshape(self.data, shape)"),
    Alternative(
        "01.8",
        "transposed = self.data.transpose(axes if axes else None)",
        "transposed = np.transpose(self.data, axes or None)",
    ),
    Alternative("01.8", "    return self.transpose()", "    return self.transpose(*reversed(range(self.ndim)))"),
    Alternative(
        "01.9",
        "    if isinstance(index, tuple):\n        index = tuple([_unwrap(part) for part in index])\n    else:\n        index = _unwrap(index)\n",
        "",
    ),
    Alternative("01.10", "return Tensor(np.exp(self.data))", "return Tensor(np.power(np.e, self.data))"),
    Alternative(
        "01.11",
        'values = np.array2string(self.data, separator=", ", prefix="Tensor(", threshold=summarize_above, edgeitems=3)',
        'with np.printoptions(threshold=summarize_above, edgeitems=3):\n        values = np.array2string(self.data, separator=", ", prefix="Tensor(")',
    ),
    # Module 02
    Alternative("02.1", "return Tensor.from_numpy(np.maximum(x.data, 0))", "return Tensor(np.clip(x.data, 0, None))"),
    Alternative(
        "02.2",
        "return Tensor(np.where(x.data > 0, x.data, self.negative_slope * x.data))",
        "return Tensor(x.data * np.where(x.data > 0, 1.0, self.negative_slope))",
    ),
    Alternative(
        "02.3",
        "        z = np.exp(-np.abs(x.data))\n        return Tensor(np.where(x.data >= 0, 1 / (1 + z), z / (1 + z)))",
        "        return Tensor(np.exp(-np.logaddexp(0.0, -x.data)))",
    ),
    Alternative("02.4", "return Tensor(np.tanh(x.data))", "return Tensor(2 * Sigmoid()(Tensor(2 * x.data)).data - 1)"),
    Alternative(
        "02.5",
        "        exponentials = np.exp(shifted)\n        return Tensor(exponentials / exponentials.sum(axis=self.axis, keepdims=True))",
        "        return Tensor(np.exp(shifted - np.log(np.exp(shifted).sum(axis=self.axis, keepdims=True))))",
    ),
    Alternative(
        "02.6",
        "        shifted = x.data - x.data.max(axis=self.axis, keepdims=True)\n",
        "        shifted = x.data - np.amax(x.data, axis=self.axis, keepdims=True)\n",
    ),
    # Module 03
    Alternative(
        "03.1",
        "            if id(parameter) not in listed:",
        "            if all(parameter is not seen for _, seen in found):",
    ),
    Alternative("03.2", "    return self.train(False)", "    return self.train(mode=False)"),
    Alternative(
        "03.3",
        "return {name: parameter.data.copy() for name, parameter in self.named_parameters()}",
        "return {name: np.array(parameter.data) for name, parameter in self.named_parameters()}",
    ),
    Alternative("03.4", "scale = np.sqrt(2.0 / in_features)", "scale = (2.0 / in_features) ** 0.5"),
    Alternative(
        "03.5",
        "    output = x @ self.weight\n    return output if self.bias is None else output + self.bias",
        "    if self.bias is None:\n        return x @ self.weight\n    return x @ self.weight + self.bias",
    ),
    Alternative(
        "03.6",
        "        for layer in self:\n            x = layer(x)\n        return x",
        "        for index in range(len(self)):\n            x = self[index](x)\n        return x",
    ),
    Alternative(
        "03.7",
        '    lines = [f"  ({index}): " + repr(layer).replace("\\n", "\\n  ") for index, layer in enumerate(self)]\n',
        '    lines = []\n    for index, layer in enumerate(self):\n        lines.append(f"  ({index}): " + "\\n  ".join(repr(layer).split("\\n")))\n',
    ),
    # Module 04
    Alternative(
        "04.1",
        "        return ((prediction - target) ** 2).mean()",
        "        difference = prediction - target\n        return (difference * difference).mean()",
    ),
    Alternative(
        "04.2",
        "return Tensor(np.eye(num_classes, dtype=np.float32)[labels])",
        "return Tensor((labels[..., None] == np.arange(num_classes)).astype(np.float32))",
    ),
    Alternative(
        "04.3", '    if targets.dtype.kind not in "iu":', "    if not np.issubdtype(targets.dtype, np.integer):"
    ),
    Alternative(
        "04.4",
        "    return -log_probabilities[np.arange(len(targets)), targets]",
        "    return 0.0 - log_probabilities[np.arange(len(targets)), targets]",
    ),
    Alternative(
        "04.5",
        '        if self.reduction == "sum":\n            return losses.sum()\n',
        '        if self.reduction == "sum":\n            return losses.mean() * len(losses)\n',
    ),
    Alternative(
        "04.6",
        "np.log1p(np.exp(-np.abs(x)))",
        "np.logaddexp(0, -np.abs(x))",
    ),
    # Module 05
    Alternative(
        "05.1",
        "    extra = grad.ndim - len(shape)\n    if extra > 0:\n        grad = grad.sum(axis=tuple(range(extra)))\n",
        "    while grad.ndim > len(shape):\n        grad = grad.sum(axis=0)\n",
    ),
    Alternative("05.2", "        return (-grad,)", "        return (np.negative(grad),)"),
    Alternative(
        "05.3",
        "unbroadcast(-grad * a / (b * b), b.shape)",
        "unbroadcast(-grad * a / b**2, b.shape)",
    ),
    Alternative("05.4", "        return (grad * self.output,)", "        return (grad * np.exp(self.inputs[0].data),)"),
    Alternative("05.5", "grad2 @ np.swapaxes(b2, -1, -2)", "np.matmul(grad2, np.swapaxes(b2, -1, -2))"),
    Alternative(
        "05.6", "    return np.broadcast_to(grad, shape)", "    return grad * np.ones(shape, dtype=grad.dtype)"
    ),
    Alternative(
        "05.7",
        "        return (grad.reshape(self.inputs[0].shape),)",
        "        return (np.reshape(grad, self.inputs[0].shape),)",
    ),
    Alternative("05.8", "        return (None, grad * (x > 0))", "        return (None, np.where(x > 0, grad, 0.0))"),
    Alternative(
        "05.9",
        "        return (None, grad - np.exp(self.output) * grad.sum(axis=axis, keepdims=True))",
        "        softmax = np.exp(self.output)\n        return (None, grad - softmax * np.sum(grad, axis=axis, keepdims=True))",
    ),
    Alternative(
        "05.10",
        "        x = logits.data\n        gradient = np.exp(x - x.max(axis=1, keepdims=True))\n        gradient /= gradient.sum(axis=1, keepdims=True)\n",
        "        gradient = Softmax()(Tensor(logits.data)).data  # your Module 02 softmax: a fresh array\n",
    ),
    Alternative(  # Kahn's algorithm: a tensor comes once every tensor that uses it has come
        "05.11",
        WHOLE_SOLUTION,
        """    def inputs_of(tensor):
        values = tensor.grad_fn.inputs if tensor.grad_fn is not None else ()
        return [value for value in values if isinstance(value, Tensor) and value.requires_grad]

    users, seen, stack = {}, {id(root)}, [root]
    while stack:
        for value in inputs_of(stack.pop()):
            users[id(value)] = users.get(id(value), 0) + 1
            if id(value) not in seen:
                seen.add(id(value))
                stack.append(value)
    order, ready = [], [root]
    while ready:
        tensor = ready.pop()
        order.append(tensor)
        for value in inputs_of(tensor):
            users[id(value)] -= 1
            if users[id(value)] == 0:
                ready.append(value)
    return order""",
    ),
    Alternative(
        "05.12",
        """            elif gradient.flags.owndata and gradient.flags.writeable and id(gradient) not in handed_over:
                tensor.grad = Tensor.from_numpy(gradient)  # made in this pass, given to no other tensor: no copy
                handed_over.add(id(gradient))
            else:
                tensor.grad = Tensor(gradient)  # may be shared, a view or read-only: a copy of its own""",
        """            else:
                tensor.grad = Tensor(gradient)""",
    ),
    Alternative("05.13", "        GradMode.enabled = self.previous", "        GradMode.enabled = bool(self.previous)"),
    Alternative(
        "05.14", "relative = abs(a - n) / max(abs(a), abs(n))", "relative = abs(a - n) / np.maximum(abs(a), abs(n))"
    ),
    # Module 06
    Alternative(
        "06.1",
        "        for param in self.params:\n            param.grad = None",
        "        for param in self.params:\n            param.zero_grad()",
    ),
    Alternative(
        "06.2",
        "            param.data -= self.lr * direction",
        "            np.subtract(param.data, self.lr * direction, out=param.data)",
    ),
    Alternative(
        "06.3",
        "            m_hat = m / (1 - beta1 ** t)\n            v_hat = v / (1 - beta2 ** t)\n            param.data -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)",
        "            step = self.lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + self.eps)\n            param.data -= step",
    ),
    Alternative(
        "06.4",
        "norm = float(np.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads)))",
        "norm = float(np.linalg.norm(np.concatenate([g.ravel() for g in grads]).astype(np.float64))) if grads else 0.0",
    ),
    Alternative(
        "06.5",
        "        self.epoch += 1\n        self.optimizer.lr = self.base_lr * self.gamma ** (self.epoch // self.step_size)",
        "        self.epoch = self.epoch + 1\n        self.optimizer.lr = self.base_lr * np.power(self.gamma, self.epoch // self.step_size)",
    ),
    Alternative("06.6", "    path = [point.data.copy()]", "    path = [np.array(point.data)]"),
    # Module 07
    Alternative(
        "07.1",
        "    return float((scores.argmax(axis=-1) == targets).mean())",
        "    return float(np.mean(np.argmax(scores, axis=1) == targets))",
    ),
    Alternative("07.2", "    inputs = x if isinstance(x, Tensor) else Tensor(x)\n", "    inputs = Tensor(x)\n"),
    Alternative(
        "07.3",
        "                total_loss += self.loss_fn(logits, y).item() * size\n",
        "                total_loss += float(self.loss_fn(logits, y).data) * size\n",
    ),
    Alternative(
        "07.4",
        "            total_loss, total_metric, examples = total_loss + loss * size, total_metric + metric * size, examples + size\n",
        "            total_loss += loss * size\n            total_metric += metric * size\n            examples += size\n",
    ),
    Alternative(
        "07.5",
        "            self.best_state = {name: array.copy() for name, array in trainer.model.state_dict().items()}",
        "            self.best_state = trainer.model.state_dict()",
    ),
    Alternative(
        "07.6",
        '    if target.suffix != ".npz":\n        target = target.with_name(target.name + ".npz")',
        '    if not target.name.endswith(".npz"):\n        target = target.parent / f"{target.name}.npz"',
    ),
    # Module 08
    Alternative(
        "08.1",
        'found_magic = int.from_bytes(data[:4], "big")',
        'found_magic = int(np.frombuffer(data, ">u4", count=1)[0])',
    ),
    Alternative("08.2", "        scaled /= 255\n", "        scaled *= np.float32(1 / 255)\n"),
    Alternative("08.3", "        return len(self.arrays[0])", "        return self.arrays[0].shape[0]"),
    Alternative(
        "08.4",
        "        return math.ceil(len(self.dataset) / self.batch_size)",
        "        return -(-len(self.dataset) // self.batch_size)",
    ),
    Alternative(
        "08.5",
        "    order = self.rng.permutation(count) if self.shuffle else np.arange(count)\n",
        "    order = np.arange(count)\n    if self.shuffle:\n        order = self.rng.permutation(count)\n",
    ),
    Alternative(
        "08.6",
        "    edges = np.cumsum([0, *lengths])",
        "    edges = [0]\n    for length in lengths:\n        edges.append(edges[-1] + length)",
    ),
]

# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Milestone 03.2 — the 1986 MLP on MNIST
#
# The same idea at full size: 60,000 handwritten digits of 28×28 pixels from the US National Institute of Standards and Technology, collected by LeCun, Cortes and Burges, the benchmark every network of the 1990s was measured on. Your library, modules 01–08, trains a multi-layer perceptron on all of it.
#
# **The network:** Input(784) → Linear(784→128) → ReLU → Linear(128→10), cross-entropy, SGD with momentum 0.9 and learning rate 0.05 (divided by 10 after epoch 4, a `StepLR` schedule), batches of 64 from your DataLoader, 6 epochs.
#
# **What to expect** (fixed seed, so every run gives the same numbers):
# - the loss starts near $\ln 10 \approx 2.30$;
# - the test accuracy passes 96% after one epoch and ends near 98% (the target: at least 97.5%), the test loss below 0.1;
# - about half a second per epoch on one core, a few seconds in all (the target: under 15 s), and well under 1 GB of memory.
#
# Run it with *Restart Kernel and Run All Cells*, or from a terminal: `cd milestones/03_1986_mlp && python 02_rumelhart_mnist.py`.

# %%
import resource
import time

import numpy as np
from mlp_milestone import TRAINED, LiveProgress, check_library, plot_confusion_and_mistakes, plot_hidden_weights, plot_history, predictions, verdict, where_time_goes, which_tinytorch

print("tinytorch:", which_tinytorch())
check_library()  # names the exercise to finish if a piece is missing, instead of failing deep inside training
import tinytorch as tt
from tinytorch.core.layers import manual_seed
from tinytorch.core.optimizers import StepLR
from tinytorch.core.training import Callback, save_model

# %% [markdown]
# ## The data: MNIST
# Read from the four IDX files in `datasets/mnist/` by your `load_mnist`, with their checksums verified; each image flattened to 784 numbers in [0, 1].

# %%
(train_images, train_labels), (test_images, test_labels) = tt.load_mnist()
train_loader = tt.DataLoader(tt.TensorDataset(train_images.reshape(-1, 784), train_labels), batch_size=64, shuffle=True, seed=0)
test_loader = tt.DataLoader(tt.TensorDataset(test_images.reshape(-1, 784), test_labels), batch_size=1000)
print(f"{len(train_images):,} training images, {len(test_images):,} test images; {len(train_loader)} batches of 64 per epoch")

# %% [markdown]
# ## The network, and its loss before training

# %%
manual_seed(0)
model = tt.Sequential(tt.Linear(784, 128), tt.ReLU(), tt.Linear(128, 10))
optimizer = tt.SGD(model.parameters(), lr=0.05, momentum=0.9)
trainer = tt.Trainer(model, tt.CrossEntropyLoss(), optimizer)
print(model, f"\n{sum(p.size for p in model.parameters()):,} parameters")
initial_loss = trainer.evaluate(test_loader)["loss"]
print(f"loss before training: {initial_loss:.3f}   (ln 10 = {np.log(10):.3f})")

# %% [markdown]
# ## Training, live
# A callback steps the learning-rate schedule after each epoch; another draws the progress bar.

# %%
class ScheduleEachEpoch(Callback):
    def __init__(self, scheduler):
        self.scheduler = scheduler

    def on_epoch_end(self, trainer, epoch, history):
        self.scheduler.step()


epochs = 6
start = time.perf_counter()
history = trainer.fit(train_loader, epochs=epochs, val_batches=test_loader,
                      callbacks=[ScheduleEachEpoch(StepLR(optimizer, step_size=4, gamma=0.1)), LiveProgress(epochs, len(train_loader))])
seconds = time.perf_counter() - start
print(f"trained in {seconds:.1f} s, {seconds / epochs:.2f} s per epoch (with the test set evaluated after each)")

# %% [markdown]
# ## What happened

# %%
plot_history(history, len(train_loader), "02_mnist")

# %% [markdown]
# The 784 input weights of each of the 128 hidden units, as 28×28 images: blurry strokes and blobs, each unit a detector for some part of some digits, none of them designed by hand.

# %%
plot_hidden_weights(model[0].weight.data, (28, 28), "02_mnist", columns=16)

# %%
predicted = predictions(model, test_images)
plot_confusion_and_mistakes(predicted, test_labels, test_images, "02_mnist")

# %% [markdown]
# ## Where your library's time goes
# One training step of this network on your own tinytorch, against the same step written by hand in numpy (the floor: the same matrix products with no Python bookkeeping) and, in the instructor's course, the course's reference solution, all measured now on this machine with one BLAS thread. Then a profile of your engine: the time of each operation's forward and backward, of `topological_order`, of `Tensor.__init__` and the rest of the step, as shares of the step. At batch 64 the two matrix products dominate, forward and backward, as they should; a row far above its neighbours (a `topological_order` that rescans the graph, a `Tensor.__init__` that copies an array it was handed, a backward rule that loops in Python) is where to look. An operation inside a fused loss (`LogSoftmax` inside `CrossEntropyLoss`) has a forward row and no backward one: the loss's own rule computes its gradient.

# %%
speed = where_time_goes(tt, train_images, train_labels, "02_mnist")

# %% [markdown]
# ## Verdict, and the trained weights

# %%
final = trainer.evaluate(test_loader)
peak_memory_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux
figures = {"initial_loss": initial_loss, "test_accuracy": final["accuracy"], "test_loss": final["loss"], "training_seconds": seconds, "peak_memory_mb": peak_memory_mb, "step_us": speed["step_us"], "floor_ratio": speed["ratio"]}
met = verdict("02_rumelhart_mnist", figures, {"test_accuracy": (">=", 0.975), "test_loss": ("<", 0.1), "training_seconds": ("<", 15.0), "peak_memory_mb": ("<", 1024)})
print("weights saved to", save_model(model, TRAINED / "02_mnist_mlp"))

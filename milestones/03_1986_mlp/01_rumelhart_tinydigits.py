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
# # Milestone 03.1 — Rumelhart, Hinton & Williams (1986) on TinyDigits
#
# In 1969 Minsky and Papert showed that a single-layer perceptron cannot compute XOR, and nobody knew how to train the hidden layers that could. In 1986 Rumelhart, Hinton and Williams published *Learning representations by back-propagating errors*: the chain rule, run backwards through the network, gives every weight its gradient. This notebook reruns their idea with **your** library: modules 01–08, nothing else but numpy.
#
# **The network:** Input(64) → Linear(64→32) → ReLU → Linear(32→10), cross-entropy, plain SGD (learning rate 0.3), batches of 32 from your DataLoader, 20 epochs.
#
# **What to expect** (fixed seed, so every run gives the same numbers):
# - the loss starts near $\ln 10 \approx 2.30$: ten classes, no idea yet;
# - the test accuracy passes 90% within a few epochs and ends near 97% (the target: at least 96%); the final training loss below 0.2;
# - training takes about a second (the target: under 2 s).
#
# Run it with *Restart Kernel and Run All Cells*, or from a terminal: `cd milestones/03_1986_mlp && python 01_rumelhart_tinydigits.py`.

# %%
import time

import numpy as np
from mlp_milestone import TRAINED, LiveProgress, check_library, plot_confusion_and_mistakes, plot_hidden_weights, plot_history, predictions, verdict, which_tinytorch

print("tinytorch:", which_tinytorch())
check_library()  # names the exercise to finish if a piece is missing, instead of failing deep inside training
import tinytorch as tt
from tinytorch.core.layers import manual_seed
from tinytorch.core.training import save_model

# %% [markdown]
# ## The data: TinyDigits
# 1,000 training and 200 test images of 8×8 pixels, loaded and checksum-verified by your `load_tinydigits`, flattened to 64 numbers each.

# %%
(train_images, train_labels), (test_images, test_labels) = tt.load_tinydigits()
train_loader = tt.DataLoader(tt.TensorDataset(train_images.reshape(-1, 64), train_labels), batch_size=32, shuffle=True, seed=0)
test_loader = tt.DataLoader(tt.TensorDataset(test_images.reshape(-1, 64), test_labels), batch_size=200)
print(f"{len(train_images)} training images, {len(test_images)} test images; {len(train_loader)} batches of 32 per epoch")

# %% [markdown]
# ## The network, and its loss before training

# %%
manual_seed(0)
model = tt.Sequential(tt.Linear(64, 32), tt.ReLU(), tt.Linear(32, 10))
loss_fn = tt.CrossEntropyLoss()
trainer = tt.Trainer(model, loss_fn, tt.SGD(model.parameters(), lr=0.3))
print(model)
initial_loss = trainer.evaluate(test_loader)["loss"]
print(f"loss before training: {initial_loss:.3f}   (ln 10 = {np.log(10):.3f})")

# %% [markdown]
# ## Training, live

# %%
epochs = 20
start = time.perf_counter()
history = trainer.fit(train_loader, epochs=epochs, val_batches=test_loader, callbacks=[LiveProgress(epochs, len(train_loader))])
seconds = time.perf_counter() - start
print(f"trained in {seconds:.2f} s")

# %% [markdown]
# ## What happened
# The loss per step and per epoch, and the accuracy on the training and test images after each epoch.

# %%
plot_history(history, len(train_loader), "01_tinydigits")

# %% [markdown]
# Each hidden unit's 64 input weights, drawn as the 8×8 image they respond to: the features backpropagation invented. Many look like pieces of strokes; some respond to a blank region where a digit has no ink.

# %%
plot_hidden_weights(model[0].weight.data, (8, 8), "01_tinydigits", columns=16)

# %%
predicted = predictions(model, test_images)
plot_confusion_and_mistakes(predicted, test_labels, test_images, "01_tinydigits")

# %% [markdown]
# ## Verdict, and the trained weights

# %%
final = trainer.evaluate(test_loader)
figures = {"initial_loss": initial_loss, "test_accuracy": final["accuracy"], "test_loss": final["loss"], "final_training_loss": history["loss"][-1], "training_seconds": seconds}
met = verdict("01_rumelhart_tinydigits", figures, {"test_accuracy": (">=", 0.96), "final_training_loss": ("<", 0.2), "training_seconds": ("<", 2.0)})
print("weights saved to", save_model(model, TRAINED / "01_tinydigits_mlp"))

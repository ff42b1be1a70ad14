"""PyTorch's "Quickstart" tutorial (pytorch.org/tutorials/beginner/basics/quickstart_tutorial.html)
ported to TinyTorch: its model, training loop, test loop, checkpoint and prediction, line by line.

Every line that differs from the tutorial ends with `# changed:` and the course's reason (each one of
the deliberate choices in the README's "Coming from PyTorch"); `# harness:` lines only let the tests
make a short run; every other line is the tutorial's. Run it from the course folder with the reference (or your own finished)
package: `PYTHONPATH=.tito/reference python docs/from-pytorch/quickstart.py` (about 10 s an epoch).
QUICKSTART_SAMPLES=2000 QUICKSTART_EPOCHS=1 make a short run (the tests use one).
"""

import os  # harness: the short run's settings
import tempfile  # harness: the checkpoint goes to a temporary folder

import tinytorch as torch  # changed: the library
from tinytorch import nn  # changed: the library
from tinytorch.utils.data import DataLoader, TensorDataset  # changed: the library; a dataset of arrays

SAMPLES = int(os.environ.get("QUICKSTART_SAMPLES", "60000"))  # harness: the short run's settings
# Download training data from open datasets.  (changed: nothing downloads at run time: MNIST from datasets/)
(train_images, train_labels), (test_images, test_labels) = torch.load_mnist()  # changed: MNIST from datasets/
training_data = TensorDataset(train_images[:SAMPLES], train_labels[:SAMPLES])  # changed: MNIST from datasets/
test_data = TensorDataset(test_images[: SAMPLES // 6], test_labels[: SAMPLES // 6])  # changed: MNIST from datasets/

batch_size = 64

# Create data loaders.
train_dataloader = DataLoader(training_data, batch_size=batch_size)
test_dataloader = DataLoader(test_data, batch_size=batch_size)

for X, y in test_dataloader:
    print(f"Shape of X [N, H, W]: {X.shape}")  # changed: grey images have no channel axis
    print(f"Shape of y: {y.shape} {y.dtype}")
    break

device = "cpu"  # changed: CPU only (the tutorial picks an accelerator when there is one)
print(f"Using {device} device")


# Define model
class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10),
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


model = NeuralNetwork().to(device)
print(model)

loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)


def train(dataloader, model, loss_fn, optimizer):
    size = len(dataloader.dataset)
    model.train()
    for batch, (X, y) in enumerate(dataloader):
        X, y = X.to(device), y.to(device)

        # Compute prediction error
        pred = model(X)
        loss = loss_fn(pred, y)

        # Backpropagation
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

        if batch % 100 == 0:
            loss, current = loss.item(), (batch + 1) * len(X)
            print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")


def test(dataloader, model, loss_fn):
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    model.eval()
    test_loss, correct = 0, 0
    with torch.no_grad():
        for X, y in dataloader:
            X, y = X.to(device), y.to(device)
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).sum().item()  # changed: a bool tensor sums to a count (no .type())
    test_loss /= num_batches
    correct /= size
    print(f"Test Error: \n Accuracy: {(100 * correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")
    return correct  # harness: the tests read the accuracy


epochs = int(os.environ.get("QUICKSTART_EPOCHS", "5"))  # harness: the short run's settings
for t in range(epochs):
    print(f"Epoch {t + 1}\n-------------------------------")
    train(train_dataloader, model, loss_fn, optimizer)
    accuracy = test(test_dataloader, model, loss_fn)  # harness: the tests read the accuracy
print("Done!")

checkpoint = os.path.join(tempfile.mkdtemp(), "model.pth")  # harness: not in the working folder (then "model.pth")
torch.save(model.state_dict(), checkpoint)
print("Saved PyTorch Model State to model.pth")

model = NeuralNetwork().to(device)
model.load_state_dict(torch.load(checkpoint, weights_only=True))

classes = [str(digit) for digit in range(10)]  # changed: MNIST's digits, not FashionMNIST's clothes

model.eval()
x, y = test_data[0][0], test_data[0][1]
with torch.no_grad():
    x = torch.tensor(x).view(1, 28, 28).to(device)  # changed: a sample is an array without batch or channel axis
    pred = model(x)
    predicted, actual = classes[pred[0].argmax(0)], classes[y]
    print(f'Predicted: "{predicted}", Actual: "{actual}"')

"""A PyTorch MLP on scikit-learn's digits, trained on the GPU its trial was given (needs ``pip install torch``).

configs/torch_gpu.json gives each trial 1 GPU and 4 cores. Both engines set CUDA_VISIBLE_DEVICES to the
trial's GPU alone, so it is ``cuda:0`` here whichever GPU of the node it is; without CUDA it trains on the CPU.
"""
from __future__ import annotations

from .svm_digits import _data


def train(config: dict, trial) -> dict:
    import torch

    from hpo_compss import trial_resources

    placed = trial_resources()
    torch.set_num_threads(placed.threads)
    torch.manual_seed(trial.seed)
    device = torch.device("cuda:0" if placed.gpus and torch.cuda.is_available() else "cpu")
    x_train, x_test, y_train, y_test = (torch.as_tensor(a, device=device) for a in _data())
    x_train, x_test = x_train.float(), x_test.float()
    width = config["width"]
    model = torch.nn.Sequential(torch.nn.Linear(64, width), torch.nn.ReLU(), torch.nn.Dropout(config["dropout"]),
                                torch.nn.Linear(width, 10)).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    for _ in range(config["epochs"]):
        for batch in torch.randperm(len(x_train), device=device).split(config["batch_size"]):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x_train[batch]), y_train[batch]).backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    return {"loss": 1.0 - accuracy, "accuracy": accuracy, "device": str(device)}

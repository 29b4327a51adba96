"""The reader's pieces that need nothing but numpy and torch: one fine-tuned layer, the top (fine-tuned
layers, pooling and head) over the frozen states, the training batches and loop, and the AUC its figures
are read in.

``eval/reader_fit.py`` (``make train-reader``) and ``eval/reader_sweep.py`` (shapes compared on any
torch device, where the product's own packages need not be installed) share them. torch is imported
only where a layer is built: the figures and batches work without it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

# A fine-tuned layer's parts, in e5.c's names: linear maps, then layer norms.
LINEAR = ("q", "k", "v", "ao", "fi", "fo")
NORMS = ("aln", "oln")


def make_layer(tensors: dict[str, np.ndarray], index: int, heads: int, eps: float, dropout: float) -> Any:
    """A BERT layer of e5 (post-norm; exact GELU), its weights ``tensors['l{index}.<part>.w/b']``
    (matrices as (outputs, inputs)). Its ``forward(x, mask)`` takes an additive attention mask."""
    import torch

    class Layer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            p = f"l{index}"

            def linear(name: str) -> torch.nn.Linear:
                weight = torch.tensor(tensors[f"{p}.{name}.w"])
                module = torch.nn.Linear(weight.shape[1], weight.shape[0])
                module.weight.data.copy_(weight)
                module.bias.data.copy_(torch.tensor(tensors[f"{p}.{name}.b"]))
                return module

            def norm(name: str) -> torch.nn.LayerNorm:
                module = torch.nn.LayerNorm(len(tensors[f"{p}.{name}.w"]), eps=eps)
                module.weight.data.copy_(torch.tensor(tensors[f"{p}.{name}.w"]))
                module.bias.data.copy_(torch.tensor(tensors[f"{p}.{name}.b"]))
                return module

            self.q, self.k, self.v, self.ao = linear("q"), linear("k"), linear("v"), linear("ao")
            self.fi, self.fo = linear("fi"), linear("fo")
            self.aln, self.oln = norm("aln"), norm("oln")
            self.drop = torch.nn.Dropout(dropout)

        def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            batch, tokens, hidden = x.shape
            size = hidden // heads

            def split(t: torch.Tensor) -> torch.Tensor:
                return t.view(batch, tokens, heads, size).transpose(1, 2)

            attention = split(self.q(x)) @ split(self.k(x)).transpose(-1, -2) / math.sqrt(size) + mask
            context = (self.drop(attention.softmax(-1)) @ split(self.v(x))).transpose(1, 2).reshape(batch, tokens, hidden)
            x = self.aln(self.drop(self.ao(context)) + x)
            inner = torch.nn.functional.gelu(self.fi(x))
            return self.oln(self.drop(self.fo(inner)) + x)  # type: ignore[no-any-return]

    return Layer()


def make_top(tensors: dict[str, np.ndarray], first: int, count: int, heads: int, eps: float, dropout: float,
             head: tuple[np.ndarray, float] | None = None) -> Any:
    """The fine-tuned layers ``first .. first + count - 1`` (``layers``) and the head (``head``: a zero one
    unless ``head`` gives its weights and bias) over frozen states; called on states and lengths, the logits
    (``top_logits``)."""
    import torch

    class Top(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = torch.nn.ModuleList(make_layer(tensors, i, heads, eps, dropout)
                                              for i in range(first, first + count))
            self.head = torch.nn.Linear(2 * len(tensors[f"l{first}.q.b"]), 1)
            torch.nn.init.zeros_(self.head.weight)
            torch.nn.init.zeros_(self.head.bias)
            if head is not None:
                self.head.weight.data.copy_(torch.tensor(head[0]).view(1, -1))
                self.head.bias.data.fill_(head[1])

        def forward(self, states: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
            return top_logits(self.layers, self.head, states, lengths)

    return Top()


def attention_mask(lengths: Any, tokens: int) -> tuple[Any, Any]:
    """Which of ``tokens`` positions each pair fills (``lengths``), and the additive attention mask of that."""
    import torch

    valid = torch.arange(tokens, device=lengths.device)[None, :] < lengths[:, None]
    return valid, torch.where(valid, 0.0, -10000.0)[:, None, None, :]


def top_logits(layers: Any, head: Any, states: Any, lengths: Any) -> Any:
    """The reader's logit of each pair: ``layers`` over its states, then ``head`` over the first token's
    state and the mean over the pair's tokens."""
    import torch

    valid, mask = attention_mask(lengths, states.shape[1])
    x = states
    for layer in layers:
        x = layer(x, mask)
    mean = (x * valid[..., None]).sum(1) / lengths[:, None]
    return head(torch.cat([x[:, 0], mean], dim=-1)).squeeze(-1)


def batches(lengths: np.ndarray, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Rows in batches of similar length, the batches in a seeded random order."""
    order = rng.permutation(len(lengths))
    pool = size * 50
    out: list[np.ndarray] = []
    for start in range(0, len(order), pool):
        block = order[start : start + pool]
        block = block[np.argsort(lengths[block], kind="stable")]
        out += [block[i : i + size] for i in range(0, len(block), size)]
    return [out[i] for i in rng.permutation(len(out))]


def warmup_then_linear(steps: int, warmup: float) -> Any:
    """The learning-rate factor of step ``k``: rising over the first ``warmup`` share, then falling to 0."""
    warm = max(1, int(warmup * steps))
    return lambda step: min((step + 1) / warm, max(0.0, (steps - step) / max(1, steps - warm)))


def fine_tune(module: Any, lengths: np.ndarray, labels: np.ndarray, weights: np.ndarray,
              inputs: Callable[[np.ndarray], tuple[Any, ...]], *, epochs: int, batch: int, learning_rate: float,
              head_learning_rate: float, weight_decay: float, warmup: float, seed: int, device: str = "cpu",
              after_epoch: Callable[[int, Any], float] | None = None,
              on_step: Callable[[int], None] | None = None) -> Any:
    """Fine-tune ``module`` (its ``head`` at ``head_learning_rate``, every other trainable parameter at
    ``learning_rate``) on weighted binary labels: ``epochs`` passes in batches of similar ``lengths``, the
    learning rate warming up then falling to 0, ``inputs(rows)`` the module's arguments for those rows.
    Returns the module of the best epoch by ``after_epoch(epoch, module)`` (higher is better), else the last
    one; ``on_step(steps)`` is called after each of the ``steps`` steps."""
    import copy

    import torch

    head = list(module.head.parameters())
    body = [p for name, p in module.named_parameters() if p.requires_grad and not name.startswith("head.")]
    optimizer = torch.optim.AdamW([{"params": body, "lr": learning_rate}, {"params": head, "lr": head_learning_rate}],
                                  weight_decay=weight_decay)
    rng = np.random.default_rng(seed)
    plan = [batches(lengths, batch, rng) for _ in range(epochs)]
    steps = sum(len(epoch) for epoch in plan)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_then_linear(steps, warmup))
    loss_of = torch.nn.BCEWithLogitsLoss(reduction="none")
    best: tuple[float, Any] | None = None
    for epoch, epoch_batches in enumerate(plan):
        module.train()
        for rows in epoch_batches:
            target = torch.from_numpy(labels[rows].astype(np.float32)).to(device)
            weight = torch.from_numpy(weights[rows].astype(np.float32)).to(device)
            loss = (loss_of(module(*inputs(rows)), target) * weight).sum() / float(weights[rows].sum())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            if on_step is not None:
                on_step(steps)
        module.eval()
        if after_epoch is not None:
            figure = after_epoch(epoch, module)
            if best is None or figure > best[0]:
                best = (figure, copy.deepcopy(module))
    return best[1] if best is not None else module


def auc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """The probability that a random positive scores above a random negative (ties count half)."""
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        return None
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    sorted_scores = np.asarray(scores)[order]
    start = 0
    while start < len(order):  # average ranks over ties
        end = start
        while end + 1 < len(order) and sorted_scores[end + 1] == sorted_scores[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return round(float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)), 4)

"""Export a pretrained model to ONNX or TorchScript for serving outside seqnn.

The exported graph takes float32 one-hot (N, 4, L), channels A, C, G, T, with L the model's
input length and N free, and returns (N, T) predictions with the output transform applied
(probabilities for classifiers), like ``PretrainedModel.forward``. Encode sequences with the
model's N/IUPAC policy (``seqnn.data.one_hot(seqs, policy=model.spec.policy)``). Example::

    seqnn-export model=ecoli-sigma70 format=onnx out=sigma70.onnx
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
from torch import nn

from seqnn.atomic import atomic_path
from seqnn.inference.pretrained import PretrainedModel

Format = Literal["onnx", "torchscript"]


class _OneHotGraph(nn.Module):
    """(N, 4, L) one-hot -> (N, T) predictions: the part of a PretrainedModel worth exporting."""

    def __init__(self, model: PretrainedModel) -> None:
        super().__init__()
        self.net = model.net
        self.output_fn = model.output_fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output_fn(self.net(x).float())


def export_model(model: PretrainedModel, out: str | Path, format: Format = "onnx") -> Path:
    """Write ``model`` as ONNX (opset 17+, dynamic batch) or TorchScript (traced).

    Returns:
        ``out``, written to a temp file and renamed.
    """
    out = Path(out)
    graph = _OneHotGraph(model.cpu()).eval()
    example = torch.zeros(2, 4, model.input_length)
    if format not in ("onnx", "torchscript"):
        raise ValueError(f"format must be 'onnx' or 'torchscript', got {format!r}")
    if format == "onnx":
        import importlib.util

        if importlib.util.find_spec("onnx") is None:
            raise ValueError(
                "format=onnx needs the onnx package: pip install 'seqnn[onnx]' "
                "(or use format=torchscript)"
            )
    with atomic_path(out) as tmp, torch.no_grad():
        if format == "torchscript":
            torch.jit.save(torch.jit.trace(graph, example), tmp)
        else:
            torch.onnx.export(
                graph,
                (example,),
                tmp,
                input_names=["one_hot"],
                output_names=["predictions"],
                dynamic_axes={"one_hot": {0: "batch"}, "predictions": {0: "batch"}},
                dynamo=False,
            )
    return out

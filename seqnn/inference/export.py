"""Export a pretrained model to ONNX or TorchScript for serving outside seqnn.

The exported graph takes float32 one-hot (N, 4, L), channels A, C, G, T, with L the model's
input length and N free, and returns (N, T) predictions with the output transform applied
(probabilities for classifiers), like ``PretrainedModel.forward``. Encode sequences with the
model's N/IUPAC policy (``seqnn.data.one_hot(seqs, policy=model.spec.policy)``). Example::

    seqnn-export model=ecoli-sigma70 format=onnx out=sigma70.onnx
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from seqnn.atomic import atomic_path
from seqnn.inference.pretrained import PretrainedModel

Format = Literal["onnx", "torchscript"]
# torch's deprecation of its own pytree class, raised from inside torch and Lightning
LEAF_SPEC_DEPRECATION = r"`isinstance\(treespec, LeafSpec\)` is deprecated"


class _OneHotGraph(nn.Module):
    """(N, 4, L) one-hot -> (N, T) predictions: the part of a PretrainedModel worth exporting."""

    def __init__(self, model: PretrainedModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # profile heads, selected targets and a track model's bin means, as in forward()
        return self.model.from_one_hot(x)


def export_model(model: PretrainedModel, out: str | Path, format: Format = "onnx") -> Path:
    """Write ``model`` as ONNX (torch's ``torch.export``-based exporter, opset 18+, dynamic
    batch) or TorchScript (traced).

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

        if (
            importlib.util.find_spec("onnx") is None
            or importlib.util.find_spec("onnxscript") is None
        ):
            raise ValueError(
                "format=onnx needs the onnx and onnxscript packages: pip install 'seqnn[onnx]' "
                "(or use format=torchscript)"
            )
    with atomic_path(out) as tmp, torch.no_grad(), warnings.catch_warnings():
        # the networks' input-shape checks are constants for the fixed input length (tracing);
        # torch.export copies pytree specs of a class torch itself deprecated (onnx)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=LEAF_SPEC_DEPRECATION, category=FutureWarning)
        if format == "torchscript":
            torch.jit.save(torch.jit.trace(graph, example), tmp)
        else:
            # torch.export-based exporter (the TorchScript-based one is deprecated); one file,
            # weights inside (external data would be named after the temp file)
            torch.onnx.export(
                graph,
                (example,),
                tmp,
                input_names=["one_hot"],
                output_names=["predictions"],
                dynamic_shapes={"x": {0: torch.export.Dim("batch")}},
                dynamo=True,
                external_data=False,
                verbose=False,
            )
    return out

"""First-layer filters -> position weight matrices (Kelley et al. 2016, Basset).

Layout: one-hot (N, 4, L), channels A, C, G, T. A filter's PWM counts the bases of every
window whose activation reaches ``threshold`` x the filter's maximum over the sequences.
"""

from __future__ import annotations

import torch
from torch import nn

from seqnn.interpret.inputs import network_of, one_hot_inputs
from seqnn.interpret.motifs import Motif


@torch.inference_mode()
def filter_motifs(
    model: nn.Module, x, threshold: float = 0.7, batch_size: int = 512, min_sites: int = 10
) -> list[Motif]:
    """PWMs of the first convolution's filters from the windows that activate them most.

    Args:
        model: a network or pretrained model whose first ``Conv1d`` reads the one-hot input.
        x: strings, (N, L) codes or (N, 4, L) one-hot (sequences the model predicts
            positive are the most informative).
        threshold: fraction of a filter's maximum activation a window must reach. Basset
            used 0.5; after batch norm most windows of a random sequence already reach half
            the maximum, so the default is 0.7.
        batch_size: sequences per forward pass.
        min_sites: filters with fewer windows are left out (dead or never-firing filters).

    Returns:
        One :class:`Motif` per filter, id ``filter<k>``, name ``filter<k>_sites<n>``, counts
        (4, kernel_size) (each column sums to the number of windows, N positions aside).
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    layers = first_conv_layers(network_of(model))
    x = one_hot_inputs(model, x)
    acts = torch.cat([layers(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])
    conv = layers[0]
    width, left = conv.kernel_size[0], (conv.kernel_size[0] - 1) // 2  # "same" padding
    padded = nn.functional.pad(x, (left, width - 1 - left))  # (N, 4, L + width - 1)
    windows = padded.unfold(2, width, 1)  # (N, 4, L, width)
    motifs = []
    for k in range(acts.shape[1]):
        a = acts[:, k]  # (N, L)
        peak = float(a.max())
        if peak <= 0:
            continue
        seq, pos = torch.nonzero(a >= threshold * peak, as_tuple=True)
        if len(seq) < min_sites:
            continue
        counts = windows[seq, :, pos].sum(dim=0).double().cpu().numpy()  # (4, width)
        motifs.append(Motif(f"filter{k}", f"filter{k}_sites{len(seq)}", counts))
    return motifs


def first_conv_layers(net: nn.Module) -> nn.Sequential:
    """The first ``Conv1d`` on 4 channels and what follows it up to its activation
    (batch norm included), so that activations are measured as the next layer sees them."""
    for module in net.modules():
        children = list(module.children())
        if children and isinstance(children[0], nn.Conv1d) and children[0].in_channels == 4:
            layers = [children[0]]
            for child in children[1:]:
                layers.append(child)
                if not isinstance(child, nn.modules.batchnorm._BatchNorm):
                    break
            return nn.Sequential(*layers).eval()
        if isinstance(module, nn.Conv1d) and module.in_channels == 4:
            return nn.Sequential(module).eval()
    raise ValueError("the network has no Conv1d with 4 input channels to read filters from")

"""seqnn: deep learning for DNA sequences.

Layout everywhere: one-hot tensors are (batch, 4, length), channels A, C, G, T.
"""

__version__ = "0.1.0"

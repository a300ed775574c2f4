"""Plain nn.Module networks over one-hot DNA (N, 4, L), channels A, C, G, T."""

from seqnn.models.bassetcnn import BassetCNN
from seqnn.models.conv_autoencoder import ConvAutoencoder, VariationalConvAutoencoder
from seqnn.models.conv_rnn import ConvRNN
from seqnn.models.conv_transformer import ConvTransformer
from seqnn.models.dilated_resnet import DilatedResNet
from seqnn.models.ensemble import Ensemble
from seqnn.models.haplotype_mean import HaplotypeMean
from seqnn.models.kmer_cnn import KmerCNN
from seqnn.models.kmer_spectrum import KmerSpectrum
from seqnn.models.layers import receptive_field
from seqnn.models.reverse_complement import ReverseComplementAverage
from seqnn.models.spectrum_mlp import SpectrumMLP
from seqnn.models.wrapper import NetworkWrapper

__all__ = [
    "BassetCNN",
    "ConvAutoencoder",
    "ConvRNN",
    "ConvTransformer",
    "DilatedResNet",
    "Ensemble",
    "HaplotypeMean",
    "KmerCNN",
    "KmerSpectrum",
    "NetworkWrapper",
    "ReverseComplementAverage",
    "SpectrumMLP",
    "VariationalConvAutoencoder",
    "receptive_field",
]

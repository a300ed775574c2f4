"""NetworkWrapper: wrappers read the inner network's facts through to it."""

import pytest

from seqnn.models import (
    BassetCNN,
    Ensemble,
    HaplotypeMean,
    NetworkWrapper,
    ReverseComplementAverage,
)


@pytest.mark.parametrize("wrapper", [HaplotypeMean, ReverseComplementAverage])
def test_wrappers_report_the_inner_networks_facts(wrapper):
    net = BassetCNN(
        n_targets=3, input_length=100, n_filters=(4, 4), kernel_sizes=(5, 3), pool_sizes=(2, 2)
    )
    wrapped = wrapper(net)
    assert isinstance(wrapped, NetworkWrapper)
    assert wrapped.net is net
    assert (wrapped.n_targets, wrapped.receptive_field) == (3, net.receptive_field)
    assert wrapped.has_members is False
    assert wrapper(Ensemble([net, net])).has_members is True

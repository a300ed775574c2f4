"""Interpretation: which bases drive a prediction.

Layout: one-hot (N, 4, L), channels A, C, G, T. Attributions are (N, 4, L) for one target and
(N, T, 4, L) for several, and explain the network's logits by default.

* :func:`ism` — in-silico mutagenesis, batched, fast (receptive-field slices) where the
  network allows it; :func:`ism_intervals` on genome intervals;
* :func:`saliency`, :func:`gradient_x_input`, :func:`integrated_gradients`,
  :func:`deeplift_shap` (dinucleotide-shuffled references) — through captum;
* :func:`filter_motifs` — first-layer filters -> PWMs; :func:`match_motifs` against JASPAR
  (Tomtom p- and q-values);
* :func:`modisco` — TF-MoDISco patterns of the attributions, matched to JASPAR, a report;
* :func:`marginalize`, :func:`ablate`, :func:`spacing` — in-silico experiments (a motif in
  backgrounds, a region or motif shuffled away, two motifs at each distance), batched;
* :func:`plot_logo`, :func:`plot_ism`, :func:`plot_effect`, :func:`plot_spacing`,
  :func:`plot_tracks` — matplotlib figures (logomaker).

Heavy dependencies (captum, tangermeme, memelite, modisco-lite, matplotlib, logomaker) are
imported on first use.
"""

from seqnn.lazy import lazy_getattr

_LAZY = {
    "ism": "seqnn.interpret.mutagenesis",
    "ism_intervals": "seqnn.interpret.mutagenesis",
    "attribute": "seqnn.interpret.gradients",
    "saliency": "seqnn.interpret.gradients",
    "gradient_x_input": "seqnn.interpret.gradients",
    "integrated_gradients": "seqnn.interpret.gradients",
    "deeplift_shap": "seqnn.interpret.gradients",
    "observed": "seqnn.interpret.inputs",
    "position_auroc": "seqnn.interpret.ground_truth",
    "position_scores": "seqnn.interpret.ground_truth",
    "filter_motifs": "seqnn.interpret.filters",
    "Motif": "seqnn.interpret.motifs",
    "MotifError": "seqnn.interpret.motifs",
    "read_jaspar": "seqnn.interpret.motifs",
    "jaspar_core": "seqnn.interpret.motifs",
    "sigma70_boxes": "seqnn.interpret.motifs",
    "write_meme": "seqnn.interpret.motifs",
    "read_meme": "seqnn.interpret.motifs",
    "motif_similarity": "seqnn.interpret.motifs",
    "match_motifs": "seqnn.interpret.motifs",
    "modisco": "seqnn.interpret.motif_discovery",
    "ModiscoResult": "seqnn.interpret.motif_discovery",
    "hypothetical_attributions": "seqnn.interpret.motif_discovery",
    "plot_logo": "seqnn.interpret.plots",
    "plot_ism": "seqnn.interpret.plots",
    "plot_effect": "seqnn.interpret.plots",
    "plot_spacing": "seqnn.interpret.plots",
    "plot_tracks": "seqnn.interpret.tracks",
    "marginalize": "seqnn.interpret.experiments",
    "ablate": "seqnn.interpret.experiments",
    "spacing": "seqnn.interpret.experiments",
    "Effect": "seqnn.interpret.experiments",
    "SpacingCurve": "seqnn.interpret.experiments",
    "ExperimentError": "seqnn.interpret.experiments",
}


__getattr__ = lazy_getattr("seqnn.interpret", _LAZY)

__all__ = list(_LAZY)

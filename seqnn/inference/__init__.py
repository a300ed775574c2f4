"""Inference: what a trained model does for its user, as library verbs that take the model.

* :mod:`~seqnn.inference.pretrained` — the package format (``seqnn.json`` + safetensors):
  :func:`load_pretrained`, :func:`save_pretrained`, :class:`PretrainedModel`;
* :mod:`~seqnn.inference.predict` — predictions on sequences and FASTA regions;
* :mod:`~seqnn.inference.scan` — genome-wide prediction tracks;
* :mod:`~seqnn.inference.variants` — variant effects from a VCF;
* :mod:`~seqnn.inference.personal` — each person's haplotypes from a cohort VCF, predicted;
* :mod:`~seqnn.inference.multi_device` — region predictions over several devices;
* :mod:`~seqnn.inference.ensemble`, :mod:`~seqnn.inference.evaluate`,
  :mod:`~seqnn.inference.export` — ensembles of packages, metrics against truth, ONNX;
* :mod:`~seqnn.inference.hub`, :mod:`~seqnn.inference.push` — packages on the Hugging Face
  Hub (``load_pretrained("hf://owner/repo")``, :func:`push_to_hub`).

Layout: models take uint8 codes (N, L) or one-hot (N, 4, L), channels A, C, G, T. The
command-line tools over these verbs live in :mod:`seqnn.cli`. Names are imported on first use.
"""

from seqnn.lazy import lazy_getattr

_LAZY = {
    "PretrainedModel": "seqnn.inference.pretrained",
    "load_pretrained": "seqnn.inference.pretrained",
    "save_pretrained": "seqnn.inference.pretrained",
    "predict_sequences": "seqnn.inference.predict",
    "predict_regions": "seqnn.inference.predict",
    "predict_profiles": "seqnn.inference.predict",
    "scan_genome": "seqnn.inference.scan",
    "variant_effects": "seqnn.inference.variants",
    "predict_personal": "seqnn.inference.personal",
    "personal_report": "seqnn.inference.personal",
    "predict_regions_distributed": "seqnn.inference.multi_device",
    "ensemble_pretrained": "seqnn.inference.ensemble",
    "evaluate_table": "seqnn.inference.evaluate",
    "evaluate_regions": "seqnn.inference.evaluate",
    "export_model": "seqnn.inference.export",
    "push_to_hub": "seqnn.inference.push",
}

__getattr__ = lazy_getattr("seqnn.inference", _LAZY)

__all__ = list(_LAZY)

"""Hydra configs of seqnn (shipped in the wheel as seqnn.configs)."""

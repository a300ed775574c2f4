"""The command-line tools: one small module per tool over the library verbs, and the
``key=value`` settings reader they share (:mod:`seqnn.cli.settings`).

``seqnn-train`` (:mod:`seqnn.cli.train`, Hydra), ``seqnn-predict``, ``seqnn-variants``,
``seqnn-evaluate``, ``seqnn-ensemble`` and ``seqnn-export``. Each prints one
``<tool>: error: ...`` line and exits with status 2 on bad input.
"""

"""core — the bottom layer: argument checks (``validate``), run profiles and environment
(``config``), devices and precision (``precision``), memory reuse (``memory``), what loops read
(``batches``), where files are (``paths``), copies of state (``state``), older call forms
(``legacy``). It imports nothing else of the package."""

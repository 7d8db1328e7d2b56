"""Everything measured on the model: the corpus-pass accumulators (search, head statistics, base rates, dependency
accuracy, head distances), the analyses derived from them after the pass (roles, the matched base rates) and the
per-probe analyses (attribution). `registry` lists them: the one place a new analysis is registered."""

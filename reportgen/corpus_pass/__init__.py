"""The corpus pass: the corpus streamed once through the model in windows and batches, each layer handed to every
accumulator of analyses/registry.py while the forward pass runs; in shards of contiguous windows whose states merge
exactly, computed in turn in this process (`local`) or on a Ray cluster (`ray`)."""

"""First divergence between two runs of one seed: where and why their weights part."""

# Training runs, models and consumers arrive with the lineage work.

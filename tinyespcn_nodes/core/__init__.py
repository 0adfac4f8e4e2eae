"""Host-free core: architectures, weights, tiling, filters, layout normalisation, the pipeline."""

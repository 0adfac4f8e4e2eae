"""Host-free core: architectures, weights, tiling kernel, pixels, filters, intensity, metrics."""

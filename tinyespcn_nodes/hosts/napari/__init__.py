"""napari plugin: widgets, fine-tune, layers, sample data (the npe2 manifest stays at the package root)."""

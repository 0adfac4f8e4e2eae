"""Between the core and the hosts: what a run needs, resolved once (model chain, tile, device, progress)."""

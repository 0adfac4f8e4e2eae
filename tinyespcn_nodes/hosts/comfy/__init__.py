"""ComfyUI: the nodes, the spandrel registration and the installer."""

"""The speed bench behind `python -m tinyespcn_nodes bench`."""

"""Files shipped inside the package (the common-password blocklist), read with importlib.resources."""

"""Files shipped inside the package (the password blocklist), read with importlib.resources."""

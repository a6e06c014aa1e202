"""The service package: `create_app` is in `main`, the command line in `cli`."""

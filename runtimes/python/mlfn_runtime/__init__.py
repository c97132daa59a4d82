"""mlfn's serving runtime. Importing it loads no model library and no cloud SDK."""

__version__ = "0.1.0"

"""The package's version, alone, so that modules below the package face can read it without a cycle."""

__version__ = "0.1.0"

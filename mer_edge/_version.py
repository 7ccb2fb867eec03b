"""The SDK version, written into exported model metadata."""
__version__ = "0.1.0"

"""reportgen: a static website explaining what each attention head of a transformer does."""

__version__ = "0.1.0"

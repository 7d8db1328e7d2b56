"""The commands, one module each: build, render, archive, verify, study. Nothing below imports this package."""

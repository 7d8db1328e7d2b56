"""Studies that measure the model beyond the report: `reportgen study NAME`."""

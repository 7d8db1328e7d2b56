"""Every Altair chart of the site, one module per page family, returned as Vega-Lite spec dicts for `|tojson`."""

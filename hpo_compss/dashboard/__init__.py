"""The read-only dashboard: a study followed from its journal (``view``), served over HTTP (``server``),
or written as one self-contained HTML file (``page``)."""

"""Reports: terminal tables, Markdown, HTML, plots."""

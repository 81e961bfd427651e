"""Reports: altair charts of analysis results, self-contained HTML, PNG and Markdown."""

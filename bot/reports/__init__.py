"""The report: figures, classification, rendering to Slack, Markdown and HTML, publishing."""

"""The security scorecard: figures across incidents, their chart, and the export."""

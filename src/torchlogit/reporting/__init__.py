"""What a person reads after a fit: evaluation metrics, plots (matplotlib, lazy), the HTML report."""

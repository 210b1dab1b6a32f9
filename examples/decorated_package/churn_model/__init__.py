"""A small churn classifier, packaged with its seedlab experiments."""

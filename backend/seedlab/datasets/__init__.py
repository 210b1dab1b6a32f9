"""Uploaded CSV data sets: content-addressed storage, column inference, agent downloads."""

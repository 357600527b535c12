"""sleuth.graphs"""

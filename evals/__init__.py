"""sleuth.evals"""

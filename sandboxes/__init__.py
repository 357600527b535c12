"""sleuth.sandboxes"""

"""Versioned prompts, one module per method. Bump a module's VERSION when its text changes,
so eval runs record which prompt produced them."""

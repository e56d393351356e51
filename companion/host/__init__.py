"""This machine: where files live (paths), the user's settings (config), safe reading of
user files, and signals. Above the core, below every adapter."""

"""This machine: where files live (paths), the user's settings (config), safe reading of
user files, signals, and the allocator (malloc). Above the core, below every adapter."""

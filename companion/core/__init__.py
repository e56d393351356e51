"""The pure session core: routines, the command vocabulary, the session state machine, its
events, clocks and spoken lines. No audio, no files, no terminal; imports nothing outside
`companion.core`."""

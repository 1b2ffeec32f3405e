"""Pure rendering: data in, bytes or strings out. No I/O, no clock, no database."""

"""What every room of tito reads: the registry of modules, a notebook's cells, an exercise's verdict,
and the few rules all of them share (settings)."""

"""(being written: see the open issue for this plugin)."""

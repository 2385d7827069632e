// The console entry point (filled in by the console screens).

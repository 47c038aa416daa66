// WebConsole module

"""The command line: one module per verb, each parse → library call → report → exit code."""

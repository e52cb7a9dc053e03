"""The command line: parse input, call one function, render output. No business rules here."""

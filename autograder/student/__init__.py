"""The student's front door: the local check, the kit it comes in, statements and starters,
the terminal report."""

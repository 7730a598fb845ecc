"""Publication (公示): the publication clock now (working days on the PRC calendar, deadlines);
publishing results comes in a later issue."""

"""后续处置: the follow-ups a submitted record lists, each carried to closure with its evidence."""

"""一单两库: the item list, the target directory, the inspector roster, experts, departments, regions."""

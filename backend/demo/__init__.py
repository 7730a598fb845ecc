"""The demo county: ``shuangsui demo seed`` fills an empty database with a believable
陕州区 (Sanmenxia, Henan): departments, regions, the item list, 20,000 targets, the
inspector roster, experts and one account per role.

``data`` holds the static vocabulary, ``seed`` builds and writes the rows (a service: no
Flask), ``cli`` is the ``demo`` command group.
"""

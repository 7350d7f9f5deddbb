"""The report: ``gather`` reads the cells' artifacts into one metrics table; ``tables`` and
``figures`` draw from it, ``display`` shows them in both HTML and PDF; the seed's claims are
``claims`` (its words, as data) with their ``margins`` over the ``evidence`` (the table's
contract), and ``judge`` gives their verdicts under ``stats``'s one rule; ``findings`` writes
the report's words; ``seed_reference`` holds the seed's own numbers."""
